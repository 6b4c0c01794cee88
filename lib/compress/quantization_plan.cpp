#include "compress/quantization_plan.hpp"

#include "core/errors.hpp"
#include "layers/conv2d.hpp"

namespace dlrun {
namespace {

bool has_int8_path(const ModelLayer& layer) {
  if (layer.type == "dense") return layer.function.empty() || layer.function == "relu";
  if (layer.type == "conv2d") {
    const auto& conv = static_cast<const Conv2d&>(*layer.layer);
    return conv.spec().groups == 1 && (layer.function.empty() || layer.function == "relu");
  }
  return false;
}

// Layer `head` and the layers fused into it.
Index group_end(const Model& model, Index head) {
  Index end = head + 1;
  while (end < model.size() && model.layer(end).fused_into_previous) ++end;
  return end;
}

// Whether `step` can take layer `i` next; updates it when it can.
bool absorb(const Model& model, Index i, QuantizationStep& step) {
  const ModelLayer& layer = model.layer(i);
  if (layer.type == "batchnorm" && i == step.first + 1 &&
      (layer.function.empty() || layer.function == "relu")) {
    step.batchnorm = i;
    step.relu = step.relu || layer.function == "relu";
    return true;
  }
  if (layer.type == "activation" && layer.function == "relu") return step.relu = true;
  if (layer.type == "maxpool2d" && model.layer(step.first).type == "conv2d" && step.maxpool < 0) {
    step.maxpool = i;
    return true;
  }
  return layer.type == "flatten" || layer.type == "dropout";
}

// Whole layer groups are taken or left: the layers fused into another run inside it.
QuantizationStep int8_step(const Model& model, Index first) {
  QuantizationStep step;
  step.first = first;
  step.int8 = true;
  step.relu = model.layer(first).function == "relu";
  step.end = group_end(model, first);
  for (Index i = first + 1; i < step.end; ++i) {
    require(absorb(model, i, step),
            "plan_quantization: a layer fused into " + model.layer(first).name + " has no int8 path");
  }
  while (step.end < model.size()) {
    QuantizationStep longer = step;
    longer.end = group_end(model, step.end);
    bool taken = true;
    for (Index i = step.end; i < longer.end && taken; ++i) taken = absorb(model, i, longer);
    if (!taken) break;
    step = longer;
  }
  return step;
}

}  // namespace

std::vector<QuantizationStep> plan_quantization(const Model& model) {
  std::vector<QuantizationStep> plan;
  for (Index i = 0; i < model.size();) {
    QuantizationStep step;
    if (has_int8_path(model.layer(i))) {
      step = int8_step(model, i);
    } else {
      step.first = i;
      step.end = group_end(model, i);
    }
    i = step.end;
    plan.push_back(step);
  }
  return plan;
}

std::vector<Index> int8_layers(const std::vector<QuantizationStep>& plan) {
  std::vector<Index> layers;
  for (const QuantizationStep& step : plan) {
    if (step.int8) layers.push_back(step.first);
  }
  return layers;
}

}  // namespace dlrun
