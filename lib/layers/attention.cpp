#include "layers/attention.hpp"

#include <algorithm>
#include <cmath>

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/fast_math.hpp"
#include "core/simd.hpp"
#include "core/threads.hpp"
#include "layers/buffer_shape.hpp"
#include "layers/layer_label.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {
namespace {

// Row i of a causal score matrix sees steps [0, i]; otherwise all T steps.
Index visible(bool causal, Index i, Index t) {
  return causal ? i + 1 : t;
}

// One row of scores in place: softmax over [0, limit), 0 for [limit, t). fast_exp (core/fast_math)
// rather than libm's scalar expf: a forward pass takes N * H * T * T / 2 exponentials when causal.
DLRUN_SIMD_CLONES void softmax_row(float* row, Index limit, Index t) {
  const float max = *std::max_element(row, row + limit);
  for_each_lane_block(
      limit, [&]<class V>(Index j) __attribute__((always_inline)) {
        store_vector(row + j, fast_exp(load_vector<V>(row + j) - max));
      });
  float sum = 0.0f;
  for (Index j = 0; j < limit; ++j) sum += row[j];
  const float inv = 1.0f / sum;
  for (Index j = 0; j < limit; ++j) row[j] *= inv;
  std::fill(row + limit, row + t, 0.0f);
}

// Softmax of each row of the (T, T) scores in place, over the visible steps; the rest become 0.
void masked_softmax(float* scores, Index t, bool causal) {
  for (Index i = 0; i < t; ++i) softmax_row(scores + i * t, visible(causal, i, t), t);
}

// dropped = probs * mask over the visible weights of each row (T, T), 0 elsewhere; the mask is drawn
// from `rng` (0 with probability `rate`, else 1/(1-rate)), each 64-bit draw deciding two weights as
// the dropout layer does.
void drop_weights(Rng& rng, double rate, const float* probs, float* dropped, Index t, bool causal) {
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(rate, 32));
  const auto scale = static_cast<float>(1.0 / (1.0 - rate));
  for (Index i = 0; i < t; ++i) {
    const float* p = probs + i * t;
    float* out = dropped + i * t;
    const Index limit = visible(causal, i, t);
    for (Index j = 0; j < limit; j += 2) {
      const std::uint64_t bits = rng.next_u64();
      out[j] = (bits & 0xFFFFFFFFu) < threshold ? 0.0f : p[j] * scale;
      if (j + 1 < limit) out[j + 1] = (bits >> 32) < threshold ? 0.0f : p[j + 1] * scale;
    }
    std::fill(out + limit, out + t, 0.0f);
  }
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(std::string name, Index embed_dim, const AttentionSpec& spec, Rng& rng)
    : name_(std::move(name)), embed_dim_(embed_dim), spec_(spec) {
  owned_.resize(static_cast<std::size_t>(parameter_count(spec_.bias)));
  parameters_ = owned_;
  init_parameters("", rng);
}

MultiHeadAttention::MultiHeadAttention(std::string name, Index embed_dim, const AttentionSpec& spec, Rng& rng,
                                       std::span<Parameter> storage, const std::string& prefix)
    : name_(std::move(name)), embed_dim_(embed_dim), spec_(spec), parameters_(storage) {
  require(static_cast<Index>(storage.size()) == parameter_count(spec_.bias),
          "multi_head_attention: storage must hold parameter_count(bias) parameters");
  init_parameters(prefix, rng);
}

void MultiHeadAttention::init_parameters(const std::string& prefix, Rng& rng) {
  const Index e = embed_dim_;
  require(e >= 1 && spec_.heads >= 1 && e % spec_.heads == 0,
          "multi_head_attention: heads must divide the embedding size");
  require(spec_.dropout >= 0.0 && spec_.dropout < 1.0, "multi_head_attention: dropout must be in [0, 1)");
  std::size_t at = 0;
  parameters_[at++] = make_parameter(prefix + "in_proj_weight", Shape{3 * e, e}, true);
  if (spec_.bias) parameters_[at++] = make_parameter(prefix + "in_proj_bias", Shape{3 * e}, false);
  parameters_[at++] = make_parameter(prefix + "out_proj.weight", Shape{e, e}, true);
  if (spec_.bias) parameters_[at++] = make_parameter(prefix + "out_proj.bias", Shape{e}, false);
  // PyTorch's _reset_parameters: xavier_uniform_ on in_proj_weight (fan_in E, fan_out 3E), zero
  // biases; out_proj.weight keeps nn.Linear's U(-1/sqrt(E), 1/sqrt(E)).
  const float bound = std::sqrt(6.0f / static_cast<float>(e + 3 * e));
  rng.fill_uniform(in_weight().value.values(), -bound, bound);
  init_linear_uniform(out_weight(), nullptr, rng);
}

MultiHeadAttention::Sizes MultiHeadAttention::sizes_of(const Shape& input) const {
  if (input.rank() != 3 || input[2] != embed_dim_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects (N, T, " + std::to_string(embed_dim_) +
                     "), got " + input.to_string());
  }
  return Sizes{input[0], input[1], embed_dim_, spec_.heads, embed_dim_ / spec_.heads};
}

Shape MultiHeadAttention::output_shape(const Shape& input) const {
  sizes_of(input);
  return input;
}

double MultiHeadAttention::flops_per_example(const Shape& input) const {
  const Sizes s = sizes_of(input);
  const auto t = static_cast<double>(s.t);
  const auto e = static_cast<double>(s.e);
  const double projections = 2.0 * t * e * 3.0 * e + 2.0 * t * e * e;
  const double attention = 2.0 * 2.0 * t * t * e;  // scores and the weighted sum of V, all heads
  const double softmax = 4.0 * static_cast<double>(s.heads) * t * t;
  return projections + attention + softmax;
}

Index MultiHeadAttention::worker_count(const Sizes& sizes) const {
  const Index pairs = sizes.n * sizes.heads;
  // Below this many multiply-adds per score GEMM pass, a second thread costs more than it saves.
  if (pairs * sizes.t * sizes.t * sizes.head_dim < (Index{1} << 15)) return 1;
  return std::max<Index>(1, std::min<Index>(thread_count(), pairs));
}

void MultiHeadAttention::forward(const Tensor& input, Tensor& output, const ForwardContext& context) {
  const Sizes s = sizes_of(input.shape());
  output.resize(input.shape());
  const Index rows = s.n * s.t;
  const Index pairs = s.n * s.heads;
  const Index t = s.t, d = s.head_dim, e = s.e;
  resize_buffer(qkv_, {rows, 3 * e});
  resize_buffer(heads_, {3, s.n, s.heads, t, d});
  resize_buffer(probs_, {s.n, s.heads, t, t});
  resize_buffer(context_, {rows, e});
  dropout_applied_ = context.mode == Mode::train && spec_.dropout > 0.0;
  std::uint64_t seed = 0;
  if (dropout_applied_) {
    require(context.rng != nullptr, "multi_head_attention: dropout in Mode::train needs ForwardContext.rng");
    seed = context.rng->next_u64();
    dropped_.resize(probs_.shape());
  }
  linear_forward(input.data(), rows, in_weight(), in_bias(), qkv_.data());

  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(d));
  const Index workers = worker_count(s);
  resize_buffer(scratch_, {workers, t * d});
  parallel_for(workers, [&](Index first_worker, Index last_worker) {
    for (Index w = first_worker; w < last_worker; ++w) {
      float* head_output = scratch_.data() + w * t * d;  // O_h (T, D)
      for (Index p = pairs * w / workers; p < pairs * (w + 1) / workers; ++p) {
        const Index n = p / s.heads, h = p % s.heads;
        float* q = heads_.data() + p * t * d;
        float* k = heads_.data() + (pairs + p) * t * d;
        float* v = heads_.data() + (2 * pairs + p) * t * d;
        for (Index i = 0; i < t; ++i) {
          const float* row = qkv_.data() + (n * t + i) * 3 * e + h * d;
          for (Index c = 0; c < d; ++c) {
            q[i * d + c] = row[c] * inv_sqrt_d;
            k[i * d + c] = row[e + c];
            v[i * d + c] = row[2 * e + c];
          }
        }
        float* probs = probs_.data() + p * t * t;
        // (T, D) x (T, D)^T -> scores (T, T), then the masked softmax in place.
        gemm(Transpose::no, Transpose::yes, t, t, d, 1.0f, view(q, t * d), view(k, t * d), 0.0f,
             view(probs, t * t));
        masked_softmax(probs, t, spec_.causal);
        const float* weights = probs;
        if (dropout_applied_) {
          Rng rng(seed ^ (static_cast<std::uint64_t>(p) + 1) * 0x9E3779B97F4A7C15ull);
          float* dropped = dropped_.data() + p * t * t;
          drop_weights(rng, spec_.dropout, probs, dropped, t, spec_.causal);
          weights = dropped;
        }
        // (T, T) x (T, D) -> O_h, placed in the columns of head h.
        gemm(Transpose::no, Transpose::no, t, d, t, 1.0f, view(weights, t * t), view(v, t * d), 0.0f,
             view(head_output, t * d));
        for (Index i = 0; i < t; ++i) {
          std::copy_n(head_output + i * d, d, context_.data() + (n * t + i) * e + h * d);
        }
      }
    }
  });
  linear_forward(context_.data(), rows, out_weight(), out_bias(), output.data());
}

// Per (n, head), with P the weights, P' = dropout(P) (P' = P without dropout), S the scores:
//   dV = P'^T dO;  dP' = dO V^T;  dP = dP' * mask;  dS = P * (dP - rowsum(dP * P))
//   dQ = dS K / sqrt(D) (Q is stored scaled);  dK = dS^T (Q / sqrt(D)).
void MultiHeadAttention::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                                  Tensor& grad_input) {
  const Sizes s = sizes_of(input.shape());
  require(grad_output.shape() == input.shape(), "multi_head_attention: grad_output does not match the input");
  require(has_dims(probs_, {s.n, s.heads, s.t, s.t}),
          "multi_head_attention: backward without a matching forward");
  grad_input.resize(input.shape());
  const Index rows = s.n * s.t;
  const Index pairs = s.n * s.heads;
  const Index t = s.t, d = s.head_dim, e = s.e;
  resize_buffer(grad_context_, {rows, e});
  resize_buffer(grad_qkv_, {rows, 3 * e});
  linear_backward(context_.data(), grad_output.data(), rows, out_weight(), out_bias(), grad_context_.data());

  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(d));
  const auto keep_scale = static_cast<float>(1.0 / (1.0 - spec_.dropout));
  const Index workers = worker_count(s);
  const Index per_worker = 4 * t * d + t * t;
  resize_buffer(scratch_, {workers, per_worker});
  parallel_for(workers, [&](Index first_worker, Index last_worker) {
    for (Index w = first_worker; w < last_worker; ++w) {
      float* grad_o = scratch_.data() + w * per_worker;
      float* grad_q = grad_o + t * d;
      float* grad_k = grad_q + t * d;
      float* grad_v = grad_k + t * d;
      float* grad_p = grad_v + t * d;  // (T, T): dP', then dS in place
      for (Index p = pairs * w / workers; p < pairs * (w + 1) / workers; ++p) {
        const Index n = p / s.heads, h = p % s.heads;
        const float* q = heads_.data() + p * t * d;
        const float* k = heads_.data() + (pairs + p) * t * d;
        const float* v = heads_.data() + (2 * pairs + p) * t * d;
        const float* probs = probs_.data() + p * t * t;
        const float* dropped = dropout_applied_ ? dropped_.data() + p * t * t : nullptr;
        for (Index i = 0; i < t; ++i) {
          std::copy_n(grad_context_.data() + (n * t + i) * e + h * d, d, grad_o + i * d);
        }
        gemm(Transpose::yes, Transpose::no, t, d, t, 1.0f, view(dropped ? dropped : probs, t * t),
             view(grad_o, t * d), 0.0f, view(grad_v, t * d));
        gemm(Transpose::no, Transpose::yes, t, t, d, 1.0f, view(grad_o, t * d), view(v, t * d), 0.0f,
             view(grad_p, t * t));
        for (Index i = 0; i < t; ++i) {
          float* row = grad_p + i * t;
          const float* prob = probs + i * t;
          const Index limit = visible(spec_.causal, i, t);
          if (dropped != nullptr) {
            // A weight was kept where its dropped value is not 0 (P > 0 there, or dS is 0 anyway).
            const float* kept = dropped + i * t;
            for (Index j = 0; j < limit; ++j) row[j] = kept[j] != 0.0f ? row[j] * keep_scale : 0.0f;
          }
          float dot = 0.0f;
          for (Index j = 0; j < limit; ++j) dot += row[j] * prob[j];
          for (Index j = 0; j < limit; ++j) row[j] = prob[j] * (row[j] - dot);
          std::fill(row + limit, row + t, 0.0f);
        }
        gemm(Transpose::no, Transpose::no, t, d, t, 1.0f, view(grad_p, t * t), view(k, t * d), 0.0f,
             view(grad_q, t * d));
        gemm(Transpose::yes, Transpose::no, t, d, t, 1.0f, view(grad_p, t * t), view(q, t * d), 0.0f,
             view(grad_k, t * d));
        for (Index i = 0; i < t; ++i) {
          float* row = grad_qkv_.data() + (n * t + i) * 3 * e + h * d;
          for (Index c = 0; c < d; ++c) {
            row[c] = grad_q[i * d + c] * inv_sqrt_d;
            row[e + c] = grad_k[i * d + c];
            row[2 * e + c] = grad_v[i * d + c];
          }
        }
      }
    }
  });
  linear_backward(input.data(), grad_qkv_.data(), rows, in_weight(), in_bias(),
                  input_grad_needed() ? grad_input.data() : nullptr);
}

std::unique_ptr<Layer> make_multi_head_attention(Options& options, const LayerBuildContext& context) {
  AttentionSpec spec;
  spec.heads = options.required_integer("heads");
  options.require_at_least("heads", static_cast<double>(spec.heads), 1.0);
  spec.causal = options.boolean("causal", spec.causal);
  spec.dropout = options.number_in("dropout", spec.dropout, 0.0, 1.0);
  spec.bias = options.boolean("bias", spec.bias);
  const Shape& input = context.input_shape;
  if (input.rank() != 3) {
    throw ShapeError(layer_label(context.name, MultiHeadAttention::kKind) + ": expects (N, T, E), got " +
                     input.to_string() + "; put an embedding (or a sequence) before it");
  }
  if (input[2] % spec.heads != 0) {
    options.fail("heads", "must divide the input's " + std::to_string(input[2]) + " features, got " +
                              std::to_string(spec.heads));
  }
  require(context.rng != nullptr, "make_multi_head_attention: LayerBuildContext.rng is null");
  return std::make_unique<MultiHeadAttention>(context.name, input[2], spec, *context.rng);
}

}  // namespace dlrun
