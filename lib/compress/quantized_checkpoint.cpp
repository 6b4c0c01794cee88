#include "compress/quantized_checkpoint.hpp"

#include <cmath>
#include <deque>

#include "core/errors.hpp"
#include "io/safetensors.hpp"

namespace dlrun {
namespace {

Shape weight_shape_of(Model& model, Index layer) {
  for (const Parameter& parameter : model.layer(layer).layer->parameters()) {
    if (parameter.name == "weight") return parameter.value.shape();
  }
  throw InternalError("quantized checkpoint: " + model.layer(layer).name + " has no weight");
}

nlohmann::json step_json(const Model& model, const QuantizationStep& step) {
  nlohmann::json layers = nlohmann::json::array();
  for (Index i = step.first; i < step.end; ++i) layers.push_back(model.layer(i).name);
  nlohmann::json json{{"layer", model.layer(step.first).name}, {"int8", step.int8}, {"layers", layers}};
  if (step.int8) {
    json["type"] = model.layer(step.first).type;
    json["relu"] = step.relu;
    if (step.batchnorm >= 0) json["batchnorm_folded"] = model.layer(step.batchnorm).name;
    if (step.maxpool >= 0) json["maxpool"] = model.layer(step.maxpool).name;
  }
  return json;
}

std::string number_text(float value) {
  return nlohmann::json(value).dump();
}

}  // namespace

bool is_quantized_checkpoint(const LoadedCheckpoint& checkpoint) {
  const auto format = checkpoint.contents.metadata.find("format");
  return format != checkpoint.contents.metadata.end() && format->second == kQuantizedCheckpointFormat;
}

void write_quantized_checkpoint(const std::filesystem::path& path, QuantizedModel& quantized,
                                const std::string& config_yaml, nlohmann::json quantization) {
  Model& model = quantized.model();
  std::deque<Tensor> storage;  // stable addresses for the tensor list
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::map<std::string, std::string> dtypes;
  const auto add = [&](const std::string& name, Tensor tensor) {
    storage.push_back(std::move(tensor));
    tensors.emplace_back(name, &storage.back());
  };
  nlohmann::json steps = nlohmann::json::array();
  std::size_t next = 0;
  for (const QuantizationStep& step : quantized.plan()) {
    steps.push_back(step_json(model, step));
    if (!step.int8) {
      for (Index i = step.first; i < step.end; ++i) {
        for (Parameter& parameter : model.layer(i).layer->parameters())
          tensors.emplace_back(model.layer(i).name + "." + parameter.name, &parameter.value);
      }
      continue;
    }
    const QuantizedLayer& layer = quantized.layers()[next++];
    Tensor weight(layer.weight_shape);
    std::copy(layer.weights.values.begin(), layer.weights.values.end(), weight.data());
    const Index outputs = layer.weights.rows;
    Tensor scale(Shape{outputs}), bias(Shape{outputs});
    std::copy(layer.weights.scales.begin(), layer.weights.scales.end(), scale.data());
    std::copy(layer.bias.begin(), layer.bias.end(), bias.data());
    dtypes[layer.name + ".weight"] = "I8";
    add(layer.name + ".weight", std::move(weight));
    add(layer.name + ".weight_scale", std::move(scale));
    add(layer.name + ".bias", std::move(bias));
    add(layer.name + ".input_scale", Tensor(Shape{1}, layer.input.scale));
    add(layer.name + ".input_zero_point", Tensor(Shape{1}, static_cast<float>(layer.input.zero_point)));
  }
  quantization["steps"] = steps;
  const std::map<std::string, std::string> metadata{{"format", std::string(kQuantizedCheckpointFormat)},
                                                    {"config", config_yaml},
                                                    {"quantization", quantization.dump()}};
  write_safetensors(path, tensors, metadata, dtypes);
}

std::vector<QuantizedLayer> read_quantized_layers(Model& model, const LoadedCheckpoint& checkpoint) {
  const auto fail = [&](const std::string& what) { throw DataError(checkpoint.path.string() + ": " + what); };
  if (!is_quantized_checkpoint(checkpoint)) fail("not an int8 quantized model");
  const std::vector<QuantizationStep> plan = plan_quantization(model);

  // The steps stored must be the config's: the same int8 layers, in order.
  const auto& metadata = checkpoint.contents.metadata;
  const auto found = metadata.find("quantization");
  if (found == metadata.end()) fail("the metadata lacks 'quantization'");
  std::vector<std::string> stored, expected;
  try {
    const nlohmann::json quantization = nlohmann::json::parse(found->second);
    for (const auto& step : quantization.at("steps")) {
      if (step.at("int8").get<bool>()) stored.push_back(step.at("layer").get<std::string>());
    }
  } catch (const nlohmann::json::exception& error) {
    fail(std::string("malformed metadata 'quantization': ") + error.what());
  }
  for (const Index layer : int8_layers(plan)) expected.push_back(model.layer(layer).name);
  if (stored != expected) {
    const auto list = [](const std::vector<std::string>& names) {
      std::string text;
      for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
      return "(" + text + ")";
    };
    fail("its int8 layers " + list(stored) + " are not those of the config's model " + list(expected) +
         ": was it quantized from another config?");
  }

  const auto need = [&](const std::string& name, const Shape& shape) -> const Tensor& {
    const Tensor* tensor = checkpoint.contents.find(name);
    if (tensor == nullptr) fail("tensor '" + name + "' is missing");
    if (tensor->shape() != shape) {
      fail("tensor '" + name + "' has shape " + tensor->shape().to_string() + ", the model expects " +
           shape.to_string());
    }
    return *tensor;
  };
  const auto positive_scale = [&](const std::string& name, float value) {
    if (!(std::isfinite(value) && value > 0.0f))
      fail("tensor '" + name + "' holds " + number_text(value) + ", not a scale (finite and > 0)");
  };
  std::vector<QuantizedLayer> layers;
  for (const QuantizationStep& step : plan) {
    if (!step.int8) {
      for (Index i = step.first; i < step.end; ++i) {
        for (Parameter& parameter : model.layer(i).layer->parameters())
          parameter.value = need(model.layer(i).name + "." + parameter.name, parameter.value.shape());
      }
      continue;
    }
    QuantizedLayer layer;
    layer.name = model.layer(step.first).name;
    layer.weight_shape = weight_shape_of(model, step.first);
    const Index outputs = layer.weight_shape[0];
    const Tensor& weight = need(layer.name + ".weight", layer.weight_shape);
    layer.weights.rows = outputs;
    layer.weights.cols = weight.size() / outputs;
    layer.weights.values.resize(static_cast<std::size_t>(weight.size()));
    for (Index i = 0; i < weight.size(); ++i) {
      const float value = weight[i];
      if (!(value >= -128.0f && value <= 127.0f && value == std::nearbyint(value)))
        fail("tensor '" + layer.name + ".weight' holds " + number_text(value) + ", not an int8 value");
      layer.weights.values[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(value);
    }
    const Tensor& scale = need(layer.name + ".weight_scale", Shape{outputs});
    for (const float value : scale.values()) positive_scale(layer.name + ".weight_scale", value);
    layer.weights.scales.assign(scale.values().begin(), scale.values().end());
    const Tensor& bias = need(layer.name + ".bias", Shape{outputs});
    for (const float value : bias.values()) {
      if (!std::isfinite(value)) fail("tensor '" + layer.name + ".bias' holds " + number_text(value));
    }
    layer.bias.assign(bias.values().begin(), bias.values().end());
    layer.input.scale = need(layer.name + ".input_scale", Shape{1})[0];
    positive_scale(layer.name + ".input_scale", layer.input.scale);
    const float zero_point = need(layer.name + ".input_zero_point", Shape{1})[0];
    if (!(zero_point >= 0.0f && zero_point <= 255.0f && zero_point == std::nearbyint(zero_point)))
      fail("tensor '" + layer.name + ".input_zero_point' holds " + number_text(zero_point) +
           ", not an integer in [0, 255]");
    layer.input.zero_point = static_cast<std::int32_t>(zero_point);
    layers.push_back(std::move(layer));
  }
  return layers;
}

}  // namespace dlrun
