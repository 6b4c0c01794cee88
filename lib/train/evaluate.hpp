// Evaluation of a model on a data view (eval mode, no gradients), and prediction.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "train/batch.hpp"
#include "train/metrics.hpp"

namespace dlrun {

// How the model's raw output relates to the loss: `depth` is how many layers run before the loss
// (the final softmax before cross_entropy, or sigmoid before binary_cross_entropy, is fused into
// the loss and skipped).
struct LossBinding {
  Loss* loss = nullptr;
  Index depth = -1;
};

LossBinding bind_loss(Model& model, Loss& loss);

// Evaluation and prediction use the training batch size. Batches of at least 256 were no faster
// (convolutions run per sample, and 64 rows already fill OpenBLAS's tiles), but every activation
// buffer grew 4x and stayed grown: fmnist_cnn_bn peaked at 206 MB instead of 128 MB.
inline Index evaluation_batch_size(Index train_batch_size) {
  return train_batch_size;
}

// The predictions that value metrics (mae, rmse, r2) compare with the targets: the model's final
// output. When a final sigmoid is fused into binary_cross_entropy (an autoencoder on [0, 1]
// inputs), `output`, the model's output after binding.depth layers, holds logits; the fused layer
// is then run here into `buffer` (resized; reused from batch to batch). Class metrics read logits
// (the argmax, or one logit > 0), so with classes `output` is returned as it is.
const Tensor& metric_predictions(Model& model, const LossBinding& binding, const Task& task,
                                 const Tensor& output, Tensor& buffer);

struct Evaluation {
  MetricValues values;  // loss first, then the configured metrics
  std::vector<std::vector<std::int64_t>> confusion;
  std::vector<MetricAccumulator::ClassScores> per_class;
};

// Runs a batch through layers [0, depth) and returns their output: Model::forward by default; an
// int8 quantized model (lib/compress) passes its own. `combine`, when given, sees the sums before
// the metrics are computed from them (data-parallel evaluation adds up the ranks' sums there).
using BatchForward = std::function<const Tensor&(const Tensor& input, Index depth)>;

Evaluation evaluate(Model& model, const LossBinding& binding, const DataView& view,
                    const InputTransform& transform, const Task& task,
                    const std::vector<std::string>& metrics, Index batch_size,
                    const BatchForward& forward = {},
                    const std::function<void(MetricAccumulator&)>& combine = {});

// Checks that the targets fit the model's output: classes vs the last layer's width, or the
// regression / autoencoder target shape (one example) vs the output's element count. Throws
// ConfigError with a clear message otherwise.
void check_task_fits_model(const Task& task, const Shape& target_shape, const Model& model, const Loss& loss);

}  // namespace dlrun
