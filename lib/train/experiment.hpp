// Everything a config describes, built and checked: data, task, model, loss, optimizer, schedule.
// train, eval, predict, summary, cv and search all start here.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "data/load.hpp"
#include "losses/loss.hpp"
#include "model/model.hpp"
#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "train/batch.hpp"

namespace dlrun {

struct Experiment {
  Config config;
  LoadedData data;
  Task task;
  Model model;
  std::unique_ptr<Loss> loss;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Schedule> schedule;  // null: constant learning rate
  Index steps_per_epoch = 0;
};

// True unless the loss is a regression loss (mse, mae, huber).
bool is_classification_loss(std::string_view loss_type);

// Loads the data, builds the model for the data's input shape (init drawn from the seed's "init"
// stream), the loss, the optimizer over the trainable parameters and the schedule; checks that
// the metrics and the model's output fit the task. Throws ConfigError / DataError.
std::unique_ptr<Experiment> prepare_experiment(Config config);
// The same with data the caller has loaded and split (a cv fold: its training rows, the inner
// validation split, the held-out fold as test, and the transform fitted on the training rows).
std::unique_ptr<Experiment> prepare_experiment(Config config, LoadedData data);

}  // namespace dlrun
