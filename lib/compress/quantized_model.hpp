// Int8 inference of a model: the int8 steps of plan_quantization run with integer matrix products
// (conv2d as im2col into uint8 rows times int8 weights, dense likewise, int32 accumulation), their
// requantization, relu and max pooling fused; the other layers run in float, with the activations
// dequantized before them and quantized again after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compress/int8_gemm.hpp"
#include "compress/quantization_plan.hpp"
#include "compress/quantize.hpp"
#include "compress/requantize.hpp"
#include "core/im2col.hpp"
#include "core/pool2d.hpp"
#include "layers/pooling.hpp"
#include "model/model.hpp"

namespace dlrun {

// What a quantized checkpoint holds for one int8 step.
struct QuantizedLayer {
  std::string name;              // the conv2d or dense layer's name
  Shape weight_shape;            // [out, in] or [F, C, KH, KW]
  QuantizedWeights weights;      // per output channel, with a folded batchnorm
  std::vector<float> bias;       // per output channel, float (zeros when the layer has none)
  ActivationQuantization input;  // the step's input: per tensor, affine
};

// A batch of uint8 activations with their shape, and spare bytes after them: a convolution reads
// its kernel rows in whole quads, up to 3 bytes past the last one.
struct U8Tensor {
  static constexpr Index kSpareBytes = 4;
  Shape shape;
  std::vector<std::uint8_t> values;
  void resize(const Shape& new_shape);
};

class QuantizedModel {
 public:
  // `layers` holds one entry per int8 step of plan_quantization(model), in order. `model` gives
  // the structure, and runs the float steps with its own parameters; it must outlive this.
  // `kernel` forces a GEMM kernel (tests); by default the fastest the CPU runs.
  QuantizedModel(Model& model, std::vector<QuantizedLayer> layers,
                 std::optional<Int8Kernel> kernel = std::nullopt);

  // Runs layers [0, depth) (all when negative) in eval mode; depth must end a step. Returns float.
  const Tensor& forward(const Tensor& input, Index depth = -1);

  const std::vector<QuantizationStep>& plan() const { return plan_; }
  const std::vector<QuantizedLayer>& layers() const { return layers_; }
  Model& model() { return *model_; }

  // Where a conv2d step's GEMM rows read one sample's image (made once per input shape): in place,
  // each row's window corner and each quad's offset from it (QuadRows); else each row's position.
  struct RowPlan {
    Shape example;  // the input (C, H, W) it was made for
    std::vector<Index> corners, offsets;
    std::vector<Index> oh, ow;
  };

 private:
  struct Workspace {
    std::vector<std::uint8_t> rows;  // im2col rows of a block of samples (conv2d)
    std::vector<std::int32_t> products;
    std::vector<std::int32_t> pooled;  // one sample's max pooled sums (OH*OW, F)
    // One sample's outputs by position (P, F), before they are transposed into channel planes.
    std::vector<float> float_rows;
    std::vector<std::uint8_t> u8_rows;
    std::vector<std::uint8_t> padded;  // a sample's image with its padding, for a conv2d in place
    Int8Scratch scratch;               // the GEMM's
  };
  // A conv2d step's figures for the current input shape (prepare_conv).
  struct ConvRun {
    ConvGeometry geometry;
    PoolGeometry pool;
    bool pool_in_gemm = false;  // windows that tile the output: max pooled inside the GEMM
    Index plane = 0;            // output positions per channel (after pooling)
    Index group = 1;            // GEMM rows per output position
    Index rows_per_sample = 0, sums_per_sample = 0;
    Index lda = 0;    // im2row_u8's rows (not in place)
    Index block = 1;  // samples per GEMM
  };
  struct Step {
    QuantizationStep plan;
    const QuantizedLayer* layer = nullptr;  // int8 steps
    Int8Weights packed;
    std::vector<float> scale;       // input scale * weight scale, per output channel
    bool u8_output = false;         // the next step is int8: requantize for it
    ActivationQuantization output;  // then: the next step's input quantization
    std::vector<float> multiplier;  // scale / output scale
    std::vector<float> offset;      // bias / output scale + output zero point
    // A conv2d whose next step is a dense layer over the whole example writes its uint8 output by
    // position, (H, W, C), without transposing it into channel planes; the dense layer's weights
    // are packed with their inputs in that order (the same sums, exactly).
    bool channels_last = false;
    std::optional<Pool2dSpec> pool;
    Shape example_shape;       // the step's output for one example
    U8Tensor quantized_input;  // the float input quantized (when the step before is float)
    U8Tensor u8_out;
    Tensor float_out;
    ConvRun conv;           // conv2d: for the current batch
    bool in_place = false;  // a conv2d reading its windows in place (weights packed for QuadRows)
    RowPlan rows;           // conv2d
  };
  void prepare_int8(Step& step, std::optional<Int8Kernel> kernel);
  void take_channels_last(Step& conv, Step& dense);
  // Sized for the input's batch (serially, in order), then run on samples [begin, end) of it.
  void prepare_conv(Step& step, const U8Tensor& input);
  void conv_samples(Step& step, const U8Tensor& input, Workspace& w, Index begin, Index end);
  void prepare_dense(Step& step, const U8Tensor& input);
  void dense_samples(Step& step, const U8Tensor& input, Workspace& w, Index begin, Index end);
  Index prepare_workers(Index work);

  Model* model_;
  std::vector<QuantizationStep> plan_;
  std::vector<QuantizedLayer> layers_;
  std::vector<Step> steps_;
  std::vector<Workspace> workspaces_;
  Tensor dequantized_;
  std::vector<float> channels_last_;  // a channels_last output dequantized, before it is transposed
};

// Folds a batchnorm into the step's conv2d / dense and quantizes the weights per output channel;
// the step's input quantization comes from the range [low, high] calibration observed.
QuantizedLayer quantize_step(Model& model, const QuantizationStep& step, float low, float high);

}  // namespace dlrun
