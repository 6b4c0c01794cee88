#include "train/trainer.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "core/errors.hpp"

namespace dlrun {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Trainer::Trainer(const Config& config, Model& model, Optimizer& optimizer, Schedule* schedule, Loss& loss,
                 const LoadedData& data, const Task& task)
    : config_(config),
      model_(model),
      optimizer_(optimizer),
      schedule_(schedule),
      data_(data),
      task_(task),
      binding_(bind_loss(model, loss)),
      trainable_(model.trainable_parameters()),
      train_metrics_(config.metrics, task.classes),
      step_metrics_(config.metrics, task.classes) {
  for (Index i = 0; i < model.size(); ++i) {
    ModelLayer& entry = model.layer(i);
    for (Parameter& parameter : entry.layer->parameters()) {
      if (!parameter.trainable || !parameter.regularized) continue;
      if (entry.regularization.l1 > 0 || entry.regularization.l2 > 0) {
        penalties_.push_back(PenaltyTarget{&parameter, entry.regularization.l1, entry.regularization.l2});
      }
      if (entry.regularization.max_norm > 0)
        max_norms_.emplace_back(&parameter, entry.regularization.max_norm);
    }
  }
}

void Trainer::set_communicator(Communicator& communicator) {
  parallel_.emplace(communicator, model_, trainable_);
  after_layer_ = [this](Index layer) { parallel_->layer_done(layer); };
  // Each rank draws its own dropout masks (rank 0 the ones a run of one process draws).
  if (communicator.rank() > 0) dropout_stream_ = "dropout/rank" + std::to_string(communicator.rank());
}

Index Trainer::steps_per_epoch() const {
  const Index n = data_.train.size();
  const Index batch = config_.train.batch_size;
  return (n + batch - 1) / batch;
}

Evaluation Trainer::evaluate(const DataView& view) {
  const Index batch = evaluation_batch_size(config_.train.batch_size);
  if (!distributed())
    return dlrun::evaluate(model_, binding_, view, data_.transform, task_, config_.metrics, batch);
  DataView share{view.dataset, {}};
  const std::span<const Index> rows = parallel_->share(view.rows);
  share.rows.assign(rows.begin(), rows.end());
  return dlrun::evaluate(model_, binding_, share, data_.transform, task_, config_.metrics, batch, {},
                         [&](MetricAccumulator& sums) { parallel_->sum_metrics(sums); });
}

nlohmann::json Trainer::progress() const {
  return {{"metrics", train_metrics_.to_json()},
          {"penalty_sum", penalty_sum_},
          {"penalty_examples", penalty_examples_}};
}

void Trainer::restore_progress(const nlohmann::json& progress) {
  if (!progress.is_object() || !progress.contains("metrics")) return;
  // The sums come from a file: a confusion matrix of another shape would be indexed out of
  // bounds later, and a wrong type must be a DataError, not an internal error.
  try {
    const nlohmann::json expected = train_metrics_.to_json().at("confusion");
    const nlohmann::json& confusion = progress.at("metrics").at("confusion");
    bool same_shape = confusion.is_array() && confusion.size() == expected.size();
    for (std::size_t i = 0; same_shape && i < confusion.size(); ++i) {
      same_shape = confusion[i].is_array() && confusion[i].size() == expected[i].size();
    }
    if (!same_shape) {
      throw DataError("malformed training progress: the confusion matrix does not fit the classes");
    }
    train_metrics_.from_json(progress.at("metrics"));
    penalty_sum_ = progress.at("penalty_sum").get<double>();
    penalty_examples_ = progress.at("penalty_examples").get<Index>();
  } catch (const nlohmann::json::exception& error) {
    throw DataError(std::string("malformed training progress: ") + error.what());
  }
}

double Trainer::train_step(std::span<const Index> rows, Index epoch, Index step, Index global_step) {
  // Data-parallel, this rank computes its share of the batch; a rank whose share is empty (a last
  // batch smaller than the ranks) contributes zero gradients.
  const std::span<const Index> local = distributed() ? parallel_->share(rows) : rows;
  const bool computes = !local.empty();
  if (computes) batch_.assemble(*data_.train.dataset, local, data_.transform, task_);
  const BatchTargets targets = computes ? batch_.targets() : BatchTargets{};
  // This rank's mean loss weighted by its share of the batch: the weighted losses (and gradients)
  // of all ranks sum to the batch's mean loss (and its gradient).
  const double share = static_cast<double>(local.size()) / static_cast<double>(rows.size());
  double local_loss = 0.0;
  double data_loss = 0.0;
  double penalty = 0.0;
  const Tensor* output = nullptr;
  // Dropout masks come from a stream keyed by the global step, so a resumed run draws the same
  // masks as an uninterrupted one; lbfgs's repeated evaluations see the same masks too.
  auto compute = [&]() {
    Rng dropout_rng = Rng::for_stream(config_.seed, dropout_stream_, static_cast<std::uint64_t>(global_step));
    const ForwardContext context{Mode::train, &dropout_rng};
    model_.zero_grads();
    if (computes) {
      output = &model_.forward(batch_.inputs(), context, binding_.depth);
      local_loss = binding_.loss->forward_backward(*output, targets, &grad_output_);
    }
    data_loss = distributed() ? parallel_->sum(local_loss * share) : local_loss;
    if (!std::isfinite(data_loss)) {
      throw DivergedError(
          "training diverged at epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(step + 1) +
          ": the loss is " + std::to_string(data_loss) + "; " +
          find_non_finite(model_, binding_.depth).value_or("the first layers' outputs are finite"));
    }
    if (computes) {
      if (distributed()) {
        for (float& grad : grad_output_.values()) grad *= static_cast<float>(share);
      }
      model_.backward(batch_.inputs(), grad_output_, binding_.depth, distributed() ? &after_layer_ : nullptr);
    }
    if (distributed()) parallel_->finish_gradients();
    // The penalties' gradients are added once, to the summed gradients (equal on every rank).
    penalty = penalties_.empty() ? 0.0 : add_weight_penalties(penalties_);
    for (Callback* callback : callbacks_) callback->on_gradients_ready();
    return data_loss + penalty;
  };

  if (optimizer_.needs_closure()) {
    optimizer_.step_with_closure(compute);
    // The metrics describe the parameters the step started from, as for first-order optimizers.
  } else {
    compute();
    if (config_.train.clip_grad_value > 0) clip_grad_value(trainable_, config_.train.clip_grad_value);
    if (config_.train.clip_grad_norm > 0) clip_grad_norm(trainable_, config_.train.clip_grad_norm);
    optimizer_.step();
  }
  for (auto& [parameter, max_norm] : max_norms_) apply_max_norm(*parameter, max_norm);
  for (Callback* callback : callbacks_) callback->on_step_end();

  // Training metrics, as Keras reports them: from this batch's train-mode outputs.
  const auto examples = static_cast<Index>(rows.size());
  if (!distributed()) {
    train_metrics_.add(metric_predictions(model_, binding_, task_, *output, metric_output_), targets,
                       data_loss, examples);
  } else {
    // Every rank adds every rank's sums, so a mid-epoch checkpoint (rank 0's) holds the batch's.
    step_metrics_.reset();
    if (computes) {
      step_metrics_.add(metric_predictions(model_, binding_, task_, *output, metric_output_), targets,
                        local_loss, static_cast<Index>(local.size()));
    }
    stop_agreed_ = parallel_->add_step_metrics(step_metrics_, train_metrics_,
                                               stop_requested_ && stop_requested_->load());
  }
  penalty_sum_ += penalty * static_cast<double>(examples);
  penalty_examples_ += examples;
  return data_loss + penalty;
}

TrainState Trainer::fit(TrainState state) {
  // Data-parallel: every rank starts from rank 0's parameters.
  if (distributed()) parallel_->broadcast_parameters();
  for (Callback* callback : callbacks_) callback->on_train_begin(state);
  const Index steps = steps_per_epoch();
  const Index batch_size = config_.train.batch_size;

  for (; state.epoch < config_.train.epochs; ++state.epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    // The epoch's data order depends only on (seed, epoch): resuming mid-epoch replays it exactly.
    order_ = data_.train.rows;
    if (config_.train.shuffle) {
      Rng shuffle_rng = Rng::for_stream(config_.seed, "shuffle", static_cast<std::uint64_t>(state.epoch));
      shuffle_rng.shuffle(order_);
    }
    if (state.step_in_epoch == 0) {
      train_metrics_.reset();
      penalty_sum_ = 0.0;
      penalty_examples_ = 0;
    }

    // A run resumed after an epoch's last step (interrupted there) runs no step below: report the
    // rate that step used, not the optimizer's, which a checkpoint does not restore.
    const Index last_step = std::max<Index>(state.step_in_epoch - 1, 0);
    double learning_rate =
        schedule_ ? schedule_->learning_rate(state.epoch, last_step) : optimizer_.initial_learning_rate();
    for (Index step = state.step_in_epoch; step < steps; ++step) {
      learning_rate =
          schedule_ ? schedule_->learning_rate(state.epoch, step) : optimizer_.initial_learning_rate();
      optimizer_.set_learning_rate(learning_rate);
      const Index begin = step * batch_size;
      const Index end = std::min<Index>(begin + batch_size, static_cast<Index>(order_.size()));
      const std::span<const Index> rows(order_.data() + begin, static_cast<std::size_t>(end - begin));
      const double loss = train_step(rows, state.epoch, step, state.global_step);
      ++state.global_step;
      state.step_in_epoch = step + 1;
      const BatchReport report{state.epoch + 1, step + 1, steps, loss, seconds_since(epoch_start)};
      for (Callback* callback : callbacks_) callback->on_batch_end(report, state);
      if (distributed() ? stop_agreed_ : stop_requested_ && stop_requested_->load()) {
        state.stop_reason = "interrupted";
        for (Callback* callback : callbacks_) callback->on_train_end(state);
        return state;
      }
    }
    state.step_in_epoch = 0;

    EpochReport report;
    report.epoch = state.epoch + 1;
    // A non-finite parameter whose loss has not shown it yet must not reach a checkpoint.
    if (const auto culprit = find_non_finite(model_, binding_.depth)) {
      throw DivergedError("training diverged in epoch " + std::to_string(state.epoch + 1) + ": " + *culprit);
    }
    // Batch norm's running statistics follow each rank's share of the batches: rank 0's, which its
    // checkpoints hold, become every rank's, so that all evaluate the same model.
    if (distributed()) parallel_->broadcast_parameters(/*buffers_only=*/true);
    report.train = train_metrics_.results();
    if (!penalties_.empty()) {
      report.train.emplace_back(
          "penalty", penalty_examples_ > 0 ? penalty_sum_ / static_cast<double>(penalty_examples_) : 0.0);
    }
    if (!data_.validation.empty()) report.validation = evaluate(data_.validation).values;
    report.learning_rate = learning_rate;
    report.seconds = seconds_since(epoch_start);
    if (schedule_) {
      std::map<std::string, double> observed;
      for (const auto& [name, value] : report.train) observed[name] = value;
      for (const auto& [name, value] : report.validation) observed["val_" + name] = value;
      schedule_->observe(state.epoch, observed);
    }
    state.history.push_back(report);

    bool stop = false;
    for (Callback* callback : callbacks_) stop |= callback->on_epoch_end(report, state) == Verdict::stop;
    if (stop) {
      ++state.epoch;
      break;
    }
  }
  for (Callback* callback : callbacks_) callback->on_train_end(state);
  return state;
}

}  // namespace dlrun
