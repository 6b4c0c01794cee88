// sequence_pool: (N, T, F) -> (N, F) over time: the last step, the mean, or the maximum of each
// feature (the first maximum on ties gets the gradient).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

enum class SequencePoolMode { last, mean, max };

class SequencePool final : public Layer {
 public:
  static constexpr std::string_view kKind = "sequence_pool";

  SequencePool(std::string name, SequencePoolMode mode);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;  // (N, T, F) with T >= 1
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  double flops_per_example(const Shape& input) const override;

 private:
  std::string name_;
  SequencePoolMode mode_;
  std::vector<Index> argmax_;  // max: per (n, f), the winning step
};

// Options: mode (last | mean | max, default last).
std::unique_ptr<Layer> make_sequence_pool(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
