// Prediction: running a trained model over new inputs, and turning outputs into class
// probabilities the way the loss reads them.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "data/dataset.hpp"
#include "model/model.hpp"

namespace dlrun {

// Runs every example of `inputs` through all layers (eval mode) in batches of `batch_size` and
// calls sink(index, output of that example) in order. `forward`, when given, runs a batch instead of
// Model::forward (an int8 quantized model).
void predict_all(Model& model, const Dataset& inputs, const InputTransform& transform, Index batch_size,
                 const std::function<void(Index index, std::span<const float> output)>& sink,
                 const std::function<const Tensor&(const Tensor& input)>& forward = {});

// Class probabilities from one example's final output: softmax over logits for cross_entropy,
// sigmoid for binary_cross_entropy (one output -> {1-p, p}); when the model's last layer already
// applied that function (`final_applied`), the outputs are taken as they are.
void class_probabilities(std::span<const float> output, std::string_view loss, bool final_applied,
                         std::vector<double>& probabilities);

}  // namespace dlrun
