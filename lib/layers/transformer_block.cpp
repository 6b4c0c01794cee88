#include "layers/transformer_block.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/buffer_shape.hpp"
#include "layers/layer_label.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {
namespace {

constexpr Index kElementwiseChunk = Index{1} << 15;

// out = a + b (the residual connections).
void add(const Tensor& a, const Tensor& b, Tensor& out) {
  out.resize(a.shape());
  parallel_for(
      a.size(),
      [&](Index begin, Index end) {
        for (Index i = begin; i < end; ++i) out[i] = a[i] + b[i];
      },
      kElementwiseChunk);
}

// out += b.
void add_to(Tensor& out, const Tensor& b) {
  parallel_for(
      out.size(),
      [&](Index begin, Index end) {
        for (Index i = begin; i < end; ++i) out[i] += b[i];
      },
      kElementwiseChunk);
}

}  // namespace

TransformerBlock::TransformerBlock(std::string name, Index d_model, const TransformerBlockSpec& spec,
                                   Rng& rng)
    : name_(std::move(name)), d_model_(d_model), spec_(spec) {
  require(d_model_ >= 1 && spec_.ff >= 1, "transformer_block: d_model and ff must be >= 1");
  require(spec_.activation == ActivationFunction::relu || spec_.activation == ActivationFunction::gelu,
          "transformer_block: activation must be relu or gelu");
  const Index attention_count = MultiHeadAttention::parameter_count(true);
  parameters_.resize(static_cast<std::size_t>(attention_count + 4 + 2 * LayerNorm::kParameterCount));
  const std::span<Parameter> all(parameters_);
  const AttentionSpec attention{
      .heads = spec_.heads, .causal = spec_.causal, .dropout = spec_.dropout, .bias = true};
  self_attn_ = std::make_unique<MultiHeadAttention>(name_ + ".self_attn", d_model_, attention, rng,
                                                    all.subspan(0, static_cast<std::size_t>(attention_count)),
                                                    "self_attn.");
  linear1_ = attention_count;
  parameter(linear1_) = make_parameter("linear1.weight", Shape{spec_.ff, d_model_}, true);
  parameter(linear1_ + 1) = make_parameter("linear1.bias", Shape{spec_.ff}, false);
  parameter(linear1_ + 2) = make_parameter("linear2.weight", Shape{d_model_, spec_.ff}, true);
  parameter(linear1_ + 3) = make_parameter("linear2.bias", Shape{d_model_}, false);
  init_linear_uniform(parameter(linear1_), &parameter(linear1_ + 1), rng);
  init_linear_uniform(parameter(linear1_ + 2), &parameter(linear1_ + 3), rng);
  const auto norms = static_cast<std::size_t>(linear1_ + 4);
  const auto norm_count = static_cast<std::size_t>(LayerNorm::kParameterCount);
  const LayerNormSpec norm{.eps = spec_.eps, .affine = true};
  norm1_ =
      std::make_unique<LayerNorm>(name_ + ".norm1", d_model_, norm, all.subspan(norms, norm_count), "norm1.");
  norm2_ = std::make_unique<LayerNorm>(name_ + ".norm2", d_model_, norm,
                                       all.subspan(norms + norm_count, norm_count), "norm2.");
  activation_ =
      std::make_unique<Activation>(ActivationSpec{.function = spec_.activation}, name_ + ".activation");
  dropout1_ = std::make_unique<Dropout>(spec_.dropout, name_ + ".dropout1");
  dropout_ = std::make_unique<Dropout>(spec_.dropout, name_ + ".dropout");
  dropout2_ = std::make_unique<Dropout>(spec_.dropout, name_ + ".dropout2");
}

void TransformerBlock::check_input(const Shape& input) const {
  if (input.rank() != 3 || input[2] != d_model_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects (N, T, " + std::to_string(d_model_) + "), got " +
                     input.to_string());
  }
}

Shape TransformerBlock::output_shape(const Shape& input) const {
  check_input(input);
  return input;
}

double TransformerBlock::flops_per_example(const Shape& input) const {
  check_input(input);
  const auto t = static_cast<double>(input[1]);
  const auto d = static_cast<double>(d_model_);
  const auto ff = static_cast<double>(spec_.ff);
  const double feed_forward = t * (2.0 * 2.0 * d * ff + d + ff) + t * ff;  // two GEMMs, biases, activation
  return self_attn_->flops_per_example(input) + feed_forward + norm1_->flops_per_example(input) +
         norm2_->flops_per_example(input) + 2.0 * t * d;  // the residual sums
}

void TransformerBlock::feed_forward(const Tensor& in, Tensor& out, const ForwardContext& context) {
  const Index rows = in.size() / d_model_;
  const Shape& shape = in.shape();
  resize_buffer(ff_hidden_, {shape[0], shape[1], spec_.ff});
  linear_forward(in.data(), rows, parameter(linear1_), &parameter(linear1_ + 1), ff_hidden_.data());
  activation_->forward(ff_hidden_, ff_active_, context);
  const Tensor* active = &ff_active_;
  if (dropout_applied_) {
    dropout_->forward(ff_active_, ff_dropped_, context);
    active = &ff_dropped_;
  }
  Tensor& linear2_out = dropout_applied_ ? ff_out_ : out;
  linear2_out.resize(shape);
  linear_forward(active->data(), rows, parameter(linear1_ + 2), &parameter(linear1_ + 3), linear2_out.data());
  if (dropout_applied_) dropout2_->forward(ff_out_, out, context);
}

void TransformerBlock::feed_forward_backward(const Tensor& in, const Tensor& grad_out, Tensor& grad_in) {
  const Index rows = in.size() / d_model_;
  const Tensor* grad = &grad_out;
  if (dropout_applied_) {
    dropout2_->backward(ff_out_, ff_out_dropped_, grad_out, grad_ff_out_);
    grad = &grad_ff_out_;
  }
  grad_active_.resize(ff_active_.shape());
  const Tensor& active = dropout_applied_ ? ff_dropped_ : ff_active_;
  linear_backward(active.data(), grad->data(), rows, parameter(linear1_ + 2), &parameter(linear1_ + 3),
                  grad_active_.data());
  const Tensor* grad_act = &grad_active_;
  if (dropout_applied_) {
    dropout_->backward(ff_active_, ff_dropped_, grad_active_, grad_hidden_);
    grad_act = &grad_hidden_;
  }
  Tensor& grad_hidden = grad_act == &grad_hidden_ ? grad_active_ : grad_hidden_;
  activation_->backward(ff_hidden_, ff_active_, *grad_act, grad_hidden);
  grad_in.resize(in.shape());
  linear_backward(in.data(), grad_hidden.data(), rows, parameter(linear1_), &parameter(linear1_ + 1),
                  grad_in.data());
}

void TransformerBlock::forward(const Tensor& input, Tensor& output, const ForwardContext& context) {
  check_input(input.shape());
  output.resize(input.shape());
  dropout_applied_ = context.mode == Mode::train && spec_.dropout > 0.0;
  const Tensor* attention_input = &input;
  if (spec_.norm_first) {
    norm1_->forward(input, norm1_out_, context);
    attention_input = &norm1_out_;
  }
  self_attn_->forward(*attention_input, attn_out_, context);
  const Tensor* attended = &attn_out_;
  if (dropout_applied_) {
    dropout1_->forward(attn_out_, attn_dropped_, context);
    attended = &attn_dropped_;
  }
  add(input, *attended, sum1_);
  if (spec_.norm_first) {
    norm2_->forward(sum1_, norm2_out_, context);
    feed_forward(norm2_out_, ff_out_dropped_, context);
    add(sum1_, ff_out_dropped_, output);
  } else {
    norm1_->forward(sum1_, norm1_out_, context);
    feed_forward(norm1_out_, ff_out_dropped_, context);
    add(norm1_out_, ff_out_dropped_, sum2_);
    norm2_->forward(sum2_, output, context);
  }
}

void TransformerBlock::backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                                Tensor& grad_input) {
  check_input(input.shape());
  require(grad_output.shape() == input.shape(), "transformer_block: grad_output does not match the input");
  grad_input.resize(input.shape());
  const bool input_grad = input_grad_needed();
  // grad_b_ becomes the gradient of sum1 (the output of the attention's residual connection).
  if (spec_.norm_first) {
    feed_forward_backward(norm2_out_, grad_output, grad_a_);
    norm2_->backward(sum1_, norm2_out_, grad_a_, grad_b_);
    add_to(grad_b_, grad_output);
  } else {
    norm2_->backward(sum2_, output, grad_output, grad_a_);
    feed_forward_backward(norm1_out_, grad_a_, grad_c_);
    add_to(grad_c_, grad_a_);
    norm1_->backward(sum1_, norm1_out_, grad_c_, grad_b_);
  }
  const Tensor* grad_attended = &grad_b_;
  if (dropout_applied_) {
    dropout1_->backward(attn_out_, attn_dropped_, grad_b_, grad_a_);
    grad_attended = &grad_a_;
  }
  if (spec_.norm_first) {
    self_attn_->backward(norm1_out_, attn_out_, *grad_attended, grad_c_);
    norm1_->set_input_grad_needed(input_grad);
    norm1_->backward(input, norm1_out_, grad_c_, grad_input);
  } else {
    self_attn_->set_input_grad_needed(input_grad);
    self_attn_->backward(input, attn_out_, *grad_attended, grad_input);
  }
  if (input_grad) add_to(grad_input, grad_b_);
}

std::unique_ptr<Layer> make_transformer_block(Options& options, const LayerBuildContext& context) {
  const Shape& input = context.input_shape;
  if (input.rank() != 3) {
    throw ShapeError(layer_label(context.name, TransformerBlock::kKind) + ": expects (N, T, d_model), got " +
                     input.to_string() + "; put an embedding before it");
  }
  const Index d_model = input[2];
  TransformerBlockSpec spec;
  spec.heads = options.required_integer("heads");
  options.require_at_least("heads", static_cast<double>(spec.heads), 1.0);
  if (d_model % spec.heads != 0) {
    options.fail("heads", "must divide d_model (the input's " + std::to_string(d_model) + " features), got " +
                              std::to_string(spec.heads));
  }
  spec.ff = options.integer_at_least("ff", 4 * d_model, 1);
  spec.dropout = options.number_in("dropout", spec.dropout, 0.0, 1.0);
  const std::string activation = options.choice("activation", "relu", {"relu", "gelu"});
  spec.activation = activation == "gelu" ? ActivationFunction::gelu : ActivationFunction::relu;
  spec.norm_first = options.boolean("norm_first", spec.norm_first);
  spec.causal = options.boolean("causal", spec.causal);
  spec.eps = options.positive_number("eps", spec.eps);
  require(context.rng != nullptr, "make_transformer_block: LayerBuildContext.rng is null");
  return std::make_unique<TransformerBlock>(context.name, d_model, spec, *context.rng);
}

}  // namespace dlrun
