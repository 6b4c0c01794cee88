#include "optim/sgd.hpp"

namespace dlrun {

Sgd::Sgd(const SgdSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  if (spec_.momentum != 0.0) add_slot("momentum_buffer", momentum_buffer_);
}

// torch.optim.sgd._single_tensor_sgd, element by element.
void Sgd::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const auto lr = static_cast<float>(learning_rate());
  const auto weight_decay = static_cast<float>(spec_.weight_decay);
  const auto momentum = static_cast<float>(spec_.momentum);
  const auto keep = static_cast<float>(1.0 - spec_.dampening);
  const std::size_t n = value.size();
  if (spec_.momentum == 0.0) {
    for (std::size_t i = 0; i < n; ++i) value[i] -= lr * (grad[i] + weight_decay * value[i]);
    return;
  }
  float* buffer = momentum_buffer_[index].data();
  const bool first = step_count() == 1;
  for (std::size_t i = 0; i < n; ++i) {
    const float d = grad[i] + weight_decay * value[i];
    buffer[i] = first ? d : buffer[i] * momentum + keep * d;
    const float direction = spec_.nesterov ? d + momentum * buffer[i] : buffer[i];
    value[i] -= lr * direction;
  }
}

SgdSpec read_sgd_spec(Options& options) {
  SgdSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.momentum = options.number_at_least("momentum", spec.momentum, 0.0);
  spec.dampening = options.number_at_least("dampening", spec.dampening, 0.0);
  spec.nesterov = options.boolean("nesterov", spec.nesterov);
  if (spec.nesterov && (spec.momentum <= 0.0 || spec.dampening != 0.0)) {
    options.fail("nesterov", "Nesterov momentum requires momentum > 0 and dampening 0");
  }
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
  return spec;
}

std::unique_ptr<Optimizer> make_sgd(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Sgd>(read_sgd_spec(options), std::move(parameters));
}

}  // namespace dlrun
