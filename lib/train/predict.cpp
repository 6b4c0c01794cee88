#include "train/predict.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dlrun {

void predict_all(Model& model, const Dataset& inputs, const InputTransform& transform, Index batch_size,
                 const std::function<void(Index, std::span<const float>)>& sink,
                 const std::function<const Tensor&(const Tensor&)>& forward) {
  std::vector<Index> rows(static_cast<std::size_t>(inputs.size()));
  std::iota(rows.begin(), rows.end(), 0);
  Tensor batch;
  for (Index begin = 0; begin < inputs.size(); begin += batch_size) {
    const Index end = std::min(inputs.size(), begin + batch_size);
    gather_inputs(inputs, std::span<const Index>(rows.data() + begin, static_cast<std::size_t>(end - begin)),
                  transform, batch);
    const Tensor& output =
        forward ? forward(batch) : model.forward(batch, ForwardContext{Mode::eval, nullptr});
    for (Index n = 0; n < end - begin; ++n) sink(begin + n, sample(output, n));
  }
}

void class_probabilities(std::span<const float> output, std::string_view loss, bool final_applied,
                         std::vector<double>& probabilities) {
  probabilities.assign(output.begin(), output.end());
  if (loss == "binary_cross_entropy") {
    const double p = final_applied ? output[0] : 1.0 / (1.0 + std::exp(-static_cast<double>(output[0])));
    probabilities = {1.0 - p, p};
    return;
  }
  if (final_applied) return;
  const double top = *std::max_element(probabilities.begin(), probabilities.end());
  double sum = 0.0;
  for (double& p : probabilities) sum += (p = std::exp(p - top));
  for (double& p : probabilities) p /= sum;
}

}  // namespace dlrun
