// `mpirun -np N dlrun cv | search`: rank 0 hands folds or trials to the other ranks through a
// RankFarm and, however it leaves (done, interrupted, an error), tells them to stop serving.
#pragma once

#include <optional>

#include "dist/communicator.hpp"
#include "dist/task_farm.hpp"

namespace dlrun::app {

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
