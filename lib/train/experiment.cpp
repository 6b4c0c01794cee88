#include "train/experiment.hpp"

#include <optional>

#include "train/evaluate.hpp"
#include "train/metrics.hpp"

namespace dlrun {

bool is_classification_loss(std::string_view loss_type) {
  return loss_type != "mse" && loss_type != "mae" && loss_type != "huber";
}

namespace {

Location where_in_tree(const Node& tree, std::string_view key) {
  const Node* node = tree.find(key);
  return node ? node->where() : Location{};
}

void check_metrics(const Config& config, const Task& task) {
  const bool classification = task.classes > 0;
  for (const std::string& metric : config.metrics) {
    if (classification && is_regression_metric(metric)) {
      throw ConfigError(
          where_in_tree(config.tree, "metrics"),
          "metric '" + metric + "' needs a regression loss (mse, mae, huber); this run classifies");
    }
    if (!classification && is_classification_metric(metric)) {
      throw ConfigError(where_in_tree(config.tree, "metrics"),
                        "metric '" + metric + "' needs class labels; the loss '" + config.loss.type +
                            "' makes this a regression" + (task.autoencoder ? " (autoencoder)" : ""));
    }
  }
}

std::unique_ptr<Experiment> prepare(Config config, std::optional<LoadedData> data) {
  auto experiment = std::make_unique<Experiment>();
  Experiment& e = *experiment;
  e.config = std::move(config);
  const Config& c = e.config;

  Options loss_options(c.loss.options, "loss");
  e.loss = make_loss(c.loss.type, c.loss.type_where, loss_options);
  loss_options.finish();

  const bool autoencoder = c.data.target == "inputs";
  // cross_entropy reads class labels only, and an autoencoder's targets are values: say so now, not
  // at the first batch.
  if (autoencoder && c.loss.type == "cross_entropy") {
    throw ConfigError(
        c.loss.type_where.known() ? c.loss.type_where : c.loss.where,
        "loss 'cross_entropy' needs class labels, but data.target: inputs makes this an autoencoder "
        "that reconstructs its inputs; use mse, mae, huber or binary_cross_entropy (inputs in [0, 1])");
  }
  const bool classification = !autoencoder && is_classification_loss(c.loss.type);
  e.data = data ? std::move(*data) : load_data(c.data, classification, c.seed);
  const Dataset& train = *e.data.train.dataset;
  if (classification && train.class_names.empty()) {
    throw DataError(train.source + ": no class labels; the loss '" + c.loss.type + "' needs them");
  }

  Rng init_rng = Rng::for_stream(c.seed, "init");
  e.model = Model::build(c.layers, train.sample_shape, make_builtin_layer_registry(), init_rng);

  e.task.classes = classification ? static_cast<Index>(train.class_names.size()) : 0;
  e.task.autoencoder = autoencoder;
  e.task.output_shape = e.model.output_shape();
  const Shape target_shape = autoencoder ? train.sample_shape : train.target_shape;
  check_task_fits_model(e.task, target_shape, e.model, *e.loss);
  check_metrics(c, e.task);

  Options optimizer_options(c.optimizer.options, "optimizer");
  e.optimizer = make_optimizer(c.optimizer.type, c.optimizer.type_where, optimizer_options,
                               e.model.trainable_parameters());
  optimizer_options.finish();

  e.steps_per_epoch = (e.data.train.size() + c.train.batch_size - 1) / c.train.batch_size;
  if (c.schedule) {
    Options schedule_options(c.schedule->options, "schedule");
    const ScheduleContext context{e.optimizer->initial_learning_rate(), c.train.epochs, e.steps_per_epoch};
    e.schedule = make_schedule(c.schedule->type, c.schedule->type_where, schedule_options, context);
    schedule_options.finish();
    check_schedule_compatible(*e.optimizer, *e.schedule, c.schedule->where);
  }
  return experiment;
}

}  // namespace

std::unique_ptr<Experiment> prepare_experiment(Config config) {
  return prepare(std::move(config), std::nullopt);
}

std::unique_ptr<Experiment> prepare_experiment(Config config, LoadedData data) {
  return prepare(std::move(config), std::move(data));
}

}  // namespace dlrun
