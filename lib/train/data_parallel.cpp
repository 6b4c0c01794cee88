#include "train/data_parallel.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace dlrun {

DataParallel::DataParallel(Communicator& communicator, Model& model,
                           const std::vector<ParameterRef>& trainable)
    : communicator_(communicator), model_(model) {
  if (!active()) return;
  const char* mode = std::getenv("DLRUN_ALLREDUCE");
  overlap_ = mode == nullptr || std::string_view(mode) != "blocking";
  // A layer fused into the one before it is computed (and differentiated) by that layer: its
  // parameters, if any, go into that layer's bucket.
  buckets_.resize(static_cast<std::size_t>(model.size()));
  std::size_t offset = 0;
  Index owner = 0;
  for (Index i = 0; i < model.size(); ++i) {
    if (!model.layer(i).fused_into_previous) owner = i;
    Bucket& bucket = buckets_[static_cast<std::size_t>(owner)];
    for (Parameter& parameter : model.layer(i).layer->parameters()) {
      const bool summed = std::any_of(trainable.begin(), trainable.end(),
                                      [&](const ParameterRef& ref) { return ref.parameter == &parameter; });
      if (summed) bucket.parameters.push_back(&parameter);
    }
  }
  for (Bucket& bucket : buckets_) {
    bucket.offset = offset;
    for (const Parameter* parameter : bucket.parameters) bucket.size += parameter->grad.values().size();
    offset += bucket.size;
  }
  flat_.resize(offset);
}

std::span<const Index> DataParallel::share(std::span<const Index> rows) const {
  const auto n = static_cast<Index>(rows.size());
  const Index rank = communicator_.rank();
  const Index size = communicator_.size();
  const Index begin = n * rank / size;
  const Index end = n * (rank + 1) / size;
  return rows.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
}

void DataParallel::start(Bucket& bucket) {
  bucket.started = true;
  if (bucket.size == 0) return;
  float* at = flat_.data() + bucket.offset;
  for (const Parameter* parameter : bucket.parameters) {
    const std::span<const float> grad = parameter->grad.values();
    std::memcpy(at, grad.data(), grad.size() * sizeof(float));
    at += grad.size();
  }
  communicator_.start_allreduce_sum(std::span<float>(flat_.data() + bucket.offset, bucket.size));
}

void DataParallel::layer_done(Index layer) {
  if (!active()) return;
  if (overlap_) {
    Bucket& bucket = buckets_[static_cast<std::size_t>(layer)];
    if (!bucket.started) start(bucket);
  }
  communicator_.progress();
}

void DataParallel::finish_gradients() {
  if (!active()) return;
  if (overlap_) {
    // The same order as backward's on every rank: from the last layer down.
    for (auto bucket = buckets_.rbegin(); bucket != buckets_.rend(); ++bucket) {
      if (!bucket->started) start(*bucket);
    }
    communicator_.wait_all();
  } else {
    for (Bucket& bucket : buckets_) {
      float* at = flat_.data() + bucket.offset;
      for (const Parameter* parameter : bucket.parameters) {
        const std::span<const float> grad = parameter->grad.values();
        std::memcpy(at, grad.data(), grad.size() * sizeof(float));
        at += grad.size();
      }
    }
    communicator_.allreduce_sum(std::span<float>(flat_));
  }
  for (Bucket& bucket : buckets_) {
    const float* at = flat_.data() + bucket.offset;
    for (Parameter* parameter : bucket.parameters) {
      const std::span<float> grad = parameter->grad.values();
      std::memcpy(grad.data(), at, grad.size() * sizeof(float));
      at += grad.size();
    }
    bucket.started = false;
  }
}

double DataParallel::sum(double value) {
  communicator_.allreduce_sum(std::span<double>(&value, 1));
  return value;
}

bool DataParallel::add_step_metrics(const MetricAccumulator& step, MetricAccumulator& total, bool stop) {
  metric_sums_.clear();
  step.append_sums(metric_sums_);
  metric_sums_.push_back(stop ? 1.0 : 0.0);
  communicator_.allreduce_sum(std::span<double>(metric_sums_));
  total.add_sums(metric_sums_);
  return metric_sums_.back() > 0.0;
}

void DataParallel::sum_metrics(MetricAccumulator& accumulator) {
  metric_sums_.clear();
  accumulator.append_sums(metric_sums_);
  communicator_.allreduce_sum(std::span<double>(metric_sums_));
  accumulator.reset();
  accumulator.add_sums(metric_sums_);
}

void DataParallel::broadcast_parameters(bool buffers_only) {
  if (!active()) return;
  for (const ParameterRef& ref : model_.parameters()) {
    if (!buffers_only || !ref.parameter->trainable) communicator_.broadcast(ref.parameter->value.values());
  }
}

}  // namespace dlrun
