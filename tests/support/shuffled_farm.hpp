// A TaskFarm in one process for tests of the MPI paths (distributed search and cv) without MPI.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dist/task_farm.hpp"

namespace dlrun::testing {

// A farm of `ranks` in-process ranks: tasks go out in order as ranks are free, and the answers
// come back in an order that is not the order sent (the rank sent to last answers first), as
// they can under MPI. Each answer crosses as JSON text, as it would between processes.
class ShuffledFarm final : public TaskFarm {
 public:
  ShuffledFarm(int ranks, std::function<nlohmann::json(const nlohmann::json&)> work)
      : ranks_(ranks), work_(std::move(work)) {}
  void run(const std::vector<nlohmann::json>& tasks, const std::function<bool(std::size_t)>& start,
           const std::function<void(std::size_t, const nlohmann::json&)>& done) override {
    std::vector<std::pair<std::size_t, std::string>> running;
    for (std::size_t next = 0; next < tasks.size() || !running.empty();) {
      while (static_cast<int>(running.size()) < ranks_ && next < tasks.size()) {
        const std::size_t task = next++;
        if (start(task)) running.emplace_back(task, work_(nlohmann::json::parse(tasks[task].dump())).dump());
      }
      if (running.empty()) break;
      const auto [task, answer] = running.back();
      running.pop_back();
      done(task, nlohmann::json::parse(answer));
      ++answered;
    }
  }
  int answered = 0;

 private:
  int ranks_;
  std::function<nlohmann::json(const nlohmann::json&)> work_;
};

}  // namespace dlrun::testing
