// Trainer::fit resumed from a state that a stop request left behind. A stop after an epoch's last
// step leaves step_in_epoch == steps: the resumed fit runs no step of that epoch, only its end,
// and must still report the learning rate that epoch used (not the optimizer's initial one).
#include <doctest/doctest.h>

#include <atomic>

#include "config/parse_config.hpp"
#include "e2e/e2e_support.hpp"
#include "train/experiment.hpp"
#include "train/trainer.hpp"

namespace dlrun {
namespace {

// Requests a stop at the end of the given (1-based) epoch's last step.
class StopAtEpochEnd final : public Callback {
 public:
  StopAtEpochEnd(Index epoch, std::atomic<bool>& flag) : epoch_(epoch), flag_(flag) {}
  void on_batch_end(const BatchReport& report, const TrainState& /*state*/) override {
    if (report.epoch == epoch_ && report.step == report.steps) flag_.store(true);
  }

 private:
  Index epoch_;
  std::atomic<bool>& flag_;
};

}  // namespace

TEST_CASE("trainer: a fit resumed after an epoch's last step reports that epoch's learning rate") {
  testing::TempDir dir;
  const auto csv = testing::write_blobs_csv(dir, 40);
  const auto config_file =
      dir.write("c.yaml", testing::tiny_csv_config(csv,
                                                   "schedule: {type: step, step_size: 1, gamma: 0.5}\n"
                                                   "train: {epochs: 3, batch_size: 8}\n"));

  auto first = prepare_experiment(load_config(config_file, {}));
  Trainer interrupted(first->config, first->model, *first->optimizer, first->schedule.get(), *first->loss,
                      first->data, first->task);
  std::atomic<bool> stop{false};
  StopAtEpochEnd stopper(2, stop);
  interrupted.add_callback(stopper);
  interrupted.set_stop_flag(&stop);
  TrainState state = interrupted.fit(TrainState{});
  REQUIRE(state.stop_reason == "interrupted");
  CHECK(state.epoch == 1);  // 0-based: epoch 2 is under way
  CHECK(state.step_in_epoch == interrupted.steps_per_epoch());
  CHECK(state.history.size() == 1);

  // A fresh experiment, as `--resume` builds one: its optimizer starts at the initial rate.
  auto second = prepare_experiment(load_config(config_file, {}));
  Trainer resumed(second->config, second->model, *second->optimizer, second->schedule.get(), *second->loss,
                  second->data, second->task);
  resumed.restore_progress(interrupted.progress());
  state.stop_reason.clear();
  const TrainState done = resumed.fit(state);
  REQUIRE(done.history.size() == 3);
  CHECK(done.history[0].learning_rate == doctest::Approx(0.01));
  CHECK(done.history[1].learning_rate == doctest::Approx(0.005));
  CHECK(done.history[2].learning_rate == doctest::Approx(0.0025));
}

}  // namespace dlrun
