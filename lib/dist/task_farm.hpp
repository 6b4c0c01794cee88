// A dynamic queue of tasks over the ranks of an MPI run (`mpirun -np N dlrun cv | search`): rank 0
// hands each task (a JSON object: a fold, a trial) to the next rank that is free and collects the
// results (JSON), ranks 1 .. N-1 serve tasks until rank 0 says stop. Whoever finishes first gets
// the next task, so uneven tasks (trials of different sizes) keep every rank busy. The callers
// (lib/select cross_validation and search_runner) know only TaskFarm; a task's result is the same
// whichever rank computes it, which is what makes distributed cv and search give the results of a
// single process.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "dist/communicator.hpp"

namespace dlrun {

class TaskFarm {
 public:
  virtual ~TaskFarm() = default;
  // Runs every task, in order as ranks become free. start(i) is called just before task i is handed
  // out (false: skip it, e.g. when stopping); done(i, result) as its result comes back, on the
  // calling thread, in completion order. Returns once every handed-out task has come back.
  virtual void run(const std::vector<nlohmann::json>& tasks, const std::function<bool(std::size_t)>& start,
                   const std::function<void(std::size_t, const nlohmann::json&)>& done) = 0;
};

// Rank 0's farm over the other ranks of `communicator` (which must be distributed). MPI calls are
// made on the calling thread only (MPI_THREAD_FUNNELED).
class RankFarm final : public TaskFarm {
 public:
  explicit RankFarm(Communicator& communicator) : communicator_(communicator) {}
  void run(const std::vector<nlohmann::json>& tasks, const std::function<bool(std::size_t)>& start,
           const std::function<void(std::size_t, const nlohmann::json&)>& done) override;
  // Tells every other rank to stop serving. Call once, when rank 0 has no more tasks.
  void stop_serving();

 private:
  Communicator& communicator_;
};

// Ranks 1 .. N-1: receives tasks from rank 0 and sends back work(task) until rank 0 stops serving.
void serve_tasks(Communicator& communicator,
                 const std::function<nlohmann::json(const nlohmann::json&)>& work);

}  // namespace dlrun
