// `mpirun -np N dlrun cv | search`: rank 0 hands folds or trials to the other ranks through a
// RankFarm and, however it leaves (done, interrupted, an error), tells them to stop serving
// (docs/scaling.md, "Distributed cv and search").
#pragma once

#include <algorithm>
#include <optional>
#include <thread>

#include "config/config.hpp"
#include "dist/communicator.hpp"
#include "dist/task_farm.hpp"

namespace dlrun::app {

// Ranks on one machine share its cores: unless the config or --threads says, each takes its part
// (the rule of `mpirun dlrun train`). Before apply_threads.
inline void share_local_cores(Config& config, const Communicator& world) {
  if (world.local_size() > 1 && config.threads == 0) {
    config.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_size());
  }
}

class RankZeroFarm {
 public:
  // A farm when this is rank 0 of a distributed run; none otherwise.
  explicit RankZeroFarm(Communicator& world) {
    if (world.distributed() && world.is_root()) farm_.emplace(world);
  }
  ~RankZeroFarm() {
    if (farm_) farm_->stop_serving();
  }
  RankZeroFarm(const RankZeroFarm&) = delete;
  RankZeroFarm& operator=(const RankZeroFarm&) = delete;
  TaskFarm* get() { return farm_ ? &*farm_ : nullptr; }

 private:
  std::optional<RankFarm> farm_;
};

}  // namespace dlrun::app
