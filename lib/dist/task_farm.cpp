#include "dist/task_farm.hpp"

#include <deque>
#include <map>
#include <string>

#include "core/errors.hpp"

namespace dlrun {
namespace {

constexpr int kTaskTag = 101;
constexpr int kResultTag = 102;
constexpr int kStopTag = 103;

void send_json(Communicator& communicator, const nlohmann::json& value, int destination, int tag) {
  const std::string text = value.dump();
  communicator.send(std::as_bytes(std::span(text.data(), text.size())), destination, tag);
}

nlohmann::json json_of(const Message& message) {
  const std::string text(reinterpret_cast<const char*>(message.bytes.data()), message.bytes.size());
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    throw InternalError("rank " + std::to_string(message.source) + " sent a message that is not JSON");
  }
  return value;
}

}  // namespace

void RankFarm::run(const std::vector<nlohmann::json>& tasks, const std::function<bool(std::size_t)>& start,
                   const std::function<void(std::size_t, const nlohmann::json&)>& done) {
  std::deque<int> free_ranks;
  for (int rank = 1; rank < communicator_.size(); ++rank) free_ranks.push_back(rank);
  std::map<int, std::size_t> running;  // rank -> task
  std::size_t next = 0;
  while (next < tasks.size() || !running.empty()) {
    while (!free_ranks.empty() && next < tasks.size()) {
      const std::size_t task = next++;
      if (!start(task)) continue;
      const int rank = free_ranks.front();
      free_ranks.pop_front();
      send_json(communicator_, tasks[task], rank, kTaskTag);
      running[rank] = task;
    }
    if (running.empty()) break;  // the rest were skipped
    const Message message = communicator_.receive(Communicator::kAnySource, kResultTag);
    const auto task = running.find(message.source);
    if (task == running.end()) {
      throw InternalError("rank " + std::to_string(message.source) + " sent a result for no task");
    }
    const std::size_t index = task->second;
    running.erase(task);
    free_ranks.push_back(message.source);
    done(index, json_of(message));
  }
}

void RankFarm::stop_serving() {
  for (int rank = 1; rank < communicator_.size(); ++rank) communicator_.send({}, rank, kStopTag);
}

void serve_tasks(Communicator& communicator,
                 const std::function<nlohmann::json(const nlohmann::json&)>& work) {
  for (;;) {
    const Message message = communicator.receive(0, Communicator::kAnyTag);
    if (message.tag == kStopTag) return;
    if (message.tag != kTaskTag) throw InternalError("unexpected message tag " + std::to_string(message.tag));
    send_json(communicator, work(json_of(message)), 0, kResultTag);
  }
}

}  // namespace dlrun
