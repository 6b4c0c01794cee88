// EarlyStopping against Keras's semantics (keras.callbacks.EarlyStopping), driven with synthetic
// epoch reports: patience counts non-improving epochs, min_delta is the margin an improvement
// needs, mode auto picks max for accuracy-like metrics, start_from_epoch skips the first epochs,
// and restore_best puts back the best epoch's parameters only when training was stopped.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/random.hpp"
#include "layers/registry.hpp"
#include "model/model.hpp"
#include "train/early_stopping.hpp"

namespace dlrun {
namespace {

// A dense 2 -> 2 model: four weights and two biases to snapshot and restore.
Model tiny_model() {
  Node options = Node::map();
  options.set("units", Node::scalar("2"));
  std::vector<LayerConfig> layers;
  layers.push_back(LayerConfig{"dense", Location{}, "fc", std::move(options), Location{}});
  Rng rng(3);
  return Model::build(layers, Shape{2}, make_builtin_layer_registry(), rng);
}

// Sets every parameter value of the model to `value`, marking "the parameters of epoch k".
void mark_parameters(Model& model, float value) {
  for (const ParameterRef& ref : model.parameters()) ref.parameter->value.fill(value);
}

float parameter_mark(Model& model) {
  return model.parameters().front().parameter->value.values()[0];
}

EpochReport report_of(Index epoch, const std::string& monitor, double value) {
  EpochReport report;
  report.epoch = epoch;
  report.train = {{"loss", 1.0}};
  if (monitor.starts_with("val_")) {
    report.validation = {{monitor.substr(4), value}};
  } else {
    report.train = {{monitor, value}};
  }
  return report;
}

// Feeds values for epochs 1, 2, ... (each epoch's parameters marked with its number) until the
// callback stops; returns the epoch it stopped at, or 0 when it never did.
Index stop_epoch(EarlyStopping& stopping, Model& model, const std::string& monitor,
                 const std::vector<double>& values, TrainState* state_out = nullptr) {
  TrainState state;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto epoch = static_cast<Index>(i + 1);
    mark_parameters(model, static_cast<float>(epoch));
    const Verdict verdict = stopping.on_epoch_end(report_of(epoch, monitor, values[i]), state);
    if (verdict == Verdict::stop) {
      CHECK(stopping.stopped());
      CHECK(state.stop_reason == stopping.reason());
      if (state_out) *state_out = state;
      return epoch;
    }
  }
  CHECK_FALSE(stopping.stopped());
  if (state_out) *state_out = state;
  return 0;
}

EarlyStoppingConfig config_with(const std::string& monitor, Index patience, double min_delta = 0.0,
                                const std::string& mode = "auto") {
  EarlyStoppingConfig config;
  config.monitor = monitor;
  config.patience = patience;
  config.min_delta = min_delta;
  config.mode = mode;
  config.restore_best = false;
  return config;
}

}  // namespace

TEST_CASE("early stopping: stops after exactly `patience` epochs without improvement") {
  Model model = tiny_model();
  SUBCASE("patience 2: best at epoch 2, epochs 3 and 4 do not improve -> stop at 4") {
    EarlyStopping stopping(config_with("val_loss", 2), model);
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.5, 0.6, 0.7, 0.1}) == 4);
    CHECK(stopping.best_epoch() == 2);
    CHECK(stopping.best() == 0.5);
    CHECK(stopping.reason().find("val_loss did not improve for 2 epoch(s)") != std::string::npos);
    CHECK(stopping.reason().find("at epoch 2") != std::string::npos);
  }
  SUBCASE("an improvement resets the wait") {
    EarlyStopping stopping(config_with("val_loss", 2), model);
    // 3 does not improve, 4 improves, 5 and 6 do not: stop at 6.
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.5, 0.6, 0.4, 0.45, 0.41, 0.0}) == 6);
    CHECK(stopping.best_epoch() == 4);
  }
  SUBCASE("patience 0 stops at the first non-improving epoch, but never on epoch 1") {
    EarlyStopping stopping(config_with("val_loss", 0), model);
    // Keras checks `epoch > 0`: epoch 1 always improves on +inf anyway; epoch 2 equal is no improvement.
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 1.0, 0.5}) == 2);
  }
  SUBCASE("equal values are not an improvement") {
    EarlyStopping stopping(config_with("val_loss", 1), model);
    CHECK(stop_epoch(stopping, model, "val_loss", {0.3, 0.3}) == 2);
  }
  SUBCASE("never stops while improving") {
    EarlyStopping stopping(config_with("val_loss", 1), model);
    CHECK(stop_epoch(stopping, model, "val_loss", {5, 4, 3, 2, 1}) == 0);
    CHECK(stopping.best_epoch() == 5);
  }
}

TEST_CASE("early stopping: min_delta is the margin an improvement must exceed") {
  Model model = tiny_model();
  SUBCASE("mode min") {
    EarlyStopping stopping(config_with("val_loss", 1, 0.1), model);
    // 0.95 improves on 1.0 by less than 0.1: not an improvement -> stop at epoch 2.
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.95}) == 2);
    CHECK(stopping.best() == 1.0);
  }
  SUBCASE("mode min, an improvement larger than min_delta counts") {
    EarlyStopping stopping(config_with("val_loss", 1, 0.1), model);
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.85, 0.8}) == 3);
    CHECK(stopping.best_epoch() == 2);
  }
  SUBCASE("mode max") {
    EarlyStopping stopping(config_with("val_accuracy", 1, 0.05), model);
    CHECK(stop_epoch(stopping, model, "val_accuracy", {0.5, 0.6, 0.62}) == 3);
    CHECK(stopping.best() == 0.6);
  }
}

TEST_CASE("early stopping: mode auto, min and max") {
  Model model = tiny_model();
  SUBCASE("auto: val_accuracy is maximised") {
    EarlyStopping stopping(config_with("val_accuracy", 1), model);
    CHECK(stop_epoch(stopping, model, "val_accuracy", {0.5, 0.6, 0.7, 0.65}) == 4);
    CHECK(stopping.best() == 0.7);
  }
  SUBCASE("auto: val_loss and loss are minimised") {
    EarlyStopping stopping(config_with("loss", 1), model);
    CHECK(stop_epoch(stopping, model, "loss", {0.5, 0.6}) == 2);
    CHECK(stopping.best() == 0.5);
  }
  SUBCASE("auto: f1, r2 and accuracy-like names are maximised; mae is minimised") {
    CHECK(metric_is_maximized("val_f1"));
    CHECK(metric_is_maximized("r2"));
    CHECK(metric_is_maximized("top_k_accuracy"));
    CHECK_FALSE(metric_is_maximized("val_mae"));
    CHECK_FALSE(metric_is_maximized("val_loss"));
  }
  SUBCASE("explicit max on a loss") {
    EarlyStopping stopping(config_with("val_loss", 1, 0.0, "max"), model);
    CHECK(stop_epoch(stopping, model, "val_loss", {0.5, 0.6, 0.4}) == 3);
    CHECK(stopping.best() == 0.6);
  }
  SUBCASE("explicit min on an accuracy") {
    EarlyStopping stopping(config_with("val_accuracy", 1, 0.0, "min"), model);
    CHECK(stop_epoch(stopping, model, "val_accuracy", {0.5, 0.4, 0.9}) == 3);
    CHECK(stopping.best() == 0.4);
  }
}

TEST_CASE("early stopping: start_from_epoch ignores the first epochs") {
  Model model = tiny_model();
  EarlyStoppingConfig config = config_with("val_loss", 1);
  config.start_from_epoch = 3;
  EarlyStopping stopping(config, model);
  // Epochs 1-3 are ignored (Keras: epoch < start_from_epoch, 0-based), so their good values never
  // become the best; epoch 4 sets the best, 5 does not improve on it -> stop at 5.
  CHECK(stop_epoch(stopping, model, "val_loss", {0.1, 0.2, 0.3, 0.9, 1.0}) == 5);
  CHECK(stopping.best_epoch() == 4);
  CHECK(stopping.best() == 0.9);
}

TEST_CASE("early stopping: restore_best restores the best epoch's parameters only when it stopped") {
  Model model = tiny_model();
  EarlyStoppingConfig config = config_with("val_loss", 2);
  config.restore_best = true;
  SUBCASE("stopped: parameters go back to the best epoch's at on_train_end") {
    EarlyStopping stopping(config, model);
    TrainState state;
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.5, 0.6, 0.7}, &state) == 4);
    CHECK(parameter_mark(model) == 4.0f);  // nothing restored before training ends
    stopping.on_train_end(state);
    for (const ParameterRef& ref : model.parameters()) {
      for (const float v : ref.parameter->value.values()) CHECK(v == 2.0f);
    }
  }
  SUBCASE("not stopped: the final parameters stay") {
    EarlyStopping stopping(config, model);
    TrainState state;
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.5, 0.6}, &state) == 0);
    stopping.on_train_end(state);
    CHECK(parameter_mark(model) == 3.0f);
  }
  SUBCASE("restore_best false: the last epoch's parameters stay after a stop") {
    config.restore_best = false;
    EarlyStopping stopping(config, model);
    TrainState state;
    CHECK(stop_epoch(stopping, model, "val_loss", {1.0, 0.5, 0.6, 0.7}, &state) == 4);
    stopping.on_train_end(state);
    CHECK(parameter_mark(model) == 4.0f);
    CHECK(stopping.snapshot_tensors().empty());
  }
}

TEST_CASE("early stopping: state and snapshot round-trip through a checkpoint's maps and tensors") {
  Model model = tiny_model();
  EarlyStoppingConfig config = config_with("val_loss", 2);
  config.restore_best = true;
  EarlyStopping first(config, model);
  TrainState state;
  CHECK(stop_epoch(first, model, "val_loss", {1.0, 0.5, 0.6}) == 0);  // best epoch 2, wait 1
  const auto saved_state = first.state();
  std::vector<std::pair<std::string, Tensor>> saved_tensors;
  for (const auto& [name, tensor] : first.snapshot_tensors()) saved_tensors.emplace_back(name, *tensor);
  CHECK(saved_tensors.size() == 2);
  CHECK(saved_tensors[0].first == "early_stopping.best.fc.weight");

  // A resumed run: a fresh callback given the saved state stops at the same epoch as the first would.
  EarlyStopping resumed(config, model);
  resumed.set_state(saved_state);
  resumed.restore_snapshot([&](const std::string& name) -> const Tensor* {
    for (const auto& [stored, tensor] : saved_tensors) {
      if (stored == name) return &tensor;
    }
    return nullptr;
  });
  mark_parameters(model, 4.0f);
  CHECK(resumed.on_epoch_end(report_of(4, "val_loss", 0.7), state) == Verdict::stop);
  CHECK(resumed.best_epoch() == 2);
  resumed.on_train_end(state);
  CHECK(parameter_mark(model) == 2.0f);
}

}  // namespace dlrun
