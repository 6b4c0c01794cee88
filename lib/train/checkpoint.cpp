#include "train/checkpoint.hpp"

#include <array>
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "train/checkpoint_categories.hpp"

namespace dlrun {
namespace {

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

double number_from(const nlohmann::json& value) {
  return value.is_number() ? value.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json values_to_json(const MetricValues& values) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, value] : values) list.push_back({name, number_or_null(value)});
  return list;
}

MetricValues values_from_json(const nlohmann::json& list) {
  MetricValues values;
  for (const auto& item : list) values.emplace_back(item.at(0).get<std::string>(), number_from(item.at(1)));
  return values;
}

nlohmann::json map_to_json(const std::map<std::string, double>& map) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : map) object[key] = number_or_null(value);
  return object;
}

std::map<std::string, double> map_from_json(const nlohmann::json& object) {
  std::map<std::string, double> map;
  for (const auto& [key, value] : object.items()) map[key] = number_from(value);
  return map;
}

const std::string& metadata_field(const LoadedCheckpoint& checkpoint, const std::string& key) {
  const auto found = checkpoint.contents.metadata.find(key);
  if (found == checkpoint.contents.metadata.end()) {
    throw DataError(checkpoint.path.string() + ": checkpoint metadata lacks '" + key + "'");
  }
  return found->second;
}

// A list of distinct byte values; anything else is a malformed checkpoint.
Vocabulary vocabulary_from_json(const std::filesystem::path& path, const nlohmann::json& list) {
  const auto bad = [&](const std::string& why) {
    return DataError(path.string() + ": malformed checkpoint metadata: vocabulary " + why);
  };
  if (!list.is_array() || list.empty()) throw bad("must be a non-empty list of byte values");
  std::vector<std::uint8_t> bytes;
  std::array<bool, 256> seen{};
  for (const auto& item : list) {
    if (!item.is_number_integer() || item.get<std::int64_t>() < 0 || item.get<std::int64_t>() > 255) {
      throw bad("holds " + item.dump() + ", not a byte value 0-255");
    }
    const auto byte = static_cast<std::uint8_t>(item.get<std::int64_t>());
    if (seen[byte]) throw bad("lists " + describe_character(byte) + " twice");
    seen[byte] = true;
    bytes.push_back(byte);
  }
  return Vocabulary(std::move(bytes));
}

std::string vocabulary_difference(const Vocabulary& stored, const Vocabulary& data) {
  std::string only_stored, only_data;
  for (const std::uint8_t c : stored.bytes()) {
    if (!data.contains(c)) only_stored += (only_stored.empty() ? "" : " ") + describe_character(c);
  }
  for (const std::uint8_t c : data.bytes()) {
    if (!stored.contains(c)) only_data += (only_data.empty() ? "" : " ") + describe_character(c);
  }
  if (only_stored.empty() && only_data.empty()) return "the same characters in another order";
  std::string text;
  if (!only_data.empty()) text += "the training text adds " + only_data;
  if (!only_stored.empty()) text += std::string(text.empty() ? "" : "; ") + "it lacks " + only_stored;
  return text;
}

}  // namespace

void check_checkpoint_vocabulary(const LoadedCheckpoint& checkpoint,
                                 const std::optional<Vocabulary>& train_vocabulary) {
  if (!train_vocabulary || !checkpoint.has_dlrun_state) return;
  const Vocabulary& stored = checkpoint.state.vocabulary;
  if (stored.empty()) {
    throw DataError(checkpoint.path.string() +
                    ": the checkpoint has no character vocabulary, but the config's data is text");
  }
  if (stored == *train_vocabulary) return;
  throw DataError(checkpoint.path.string() + ": the checkpoint's vocabulary (" +
                  std::to_string(stored.size()) +
                  " characters) differs from the one of the config's "
                  "training text (" +
                  std::to_string(train_vocabulary->size()) +
                  " characters): " + vocabulary_difference(stored, *train_vocabulary) +
                  "; token ids would mean other characters than in training");
}

nlohmann::json train_state_to_json(const TrainState& state) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochReport& report : state.history) {
    history.push_back({{"epoch", report.epoch},
                       {"train", values_to_json(report.train)},
                       {"validation", values_to_json(report.validation)},
                       {"lr", report.learning_rate},
                       {"seconds", report.seconds}});
  }
  return {{"epoch", state.epoch},
          {"step_in_epoch", state.step_in_epoch},
          {"global_step", state.global_step},
          {"stop_reason", state.stop_reason},
          {"history", history}};
}

TrainState train_state_from_json(const nlohmann::json& value) {
  TrainState state;
  state.epoch = value.at("epoch").get<Index>();
  state.step_in_epoch = value.at("step_in_epoch").get<Index>();
  state.global_step = value.at("global_step").get<Index>();
  state.stop_reason = value.at("stop_reason").get<std::string>();
  for (const auto& item : value.at("history")) {
    EpochReport report;
    report.epoch = item.at("epoch").get<Index>();
    report.train = values_from_json(item.at("train"));
    report.validation = values_from_json(item.at("validation"));
    report.learning_rate = number_from(item.at("lr"));
    report.seconds = number_from(item.at("seconds"));
    state.history.push_back(std::move(report));
  }
  return state;
}

void save_checkpoint(const std::filesystem::path& path, Model& model, Optimizer* optimizer,
                     const CheckpointState& state,
                     const std::vector<std::pair<std::string, const Tensor*>>& extra,
                     const std::map<std::string, std::string>& dtypes) {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const ParameterRef& ref : model.parameters()) tensors.emplace_back(ref.name, &ref.parameter->value);
  std::map<std::string, std::string> metadata{
      {"format", std::string(kCheckpointFormat)},
      {"config", state.config_yaml},
      {"epoch", std::to_string(state.train.epoch)},
      {"step", std::to_string(state.train.global_step)},
      {"train_state", train_state_to_json(state.train).dump()},
      {"progress", state.progress.dump()},
      {"schedule", map_to_json(state.schedule).dump()},
      {"early_stopping", map_to_json(state.early_stopping).dump()},
      {"checkpointer", map_to_json(state.checkpointer).dump()},
      {"provenance", state.provenance.dump()},
      {"rng", "stateless: data order and dropout masks derive from (seed, epoch, step)"},
  };
  if (!state.vocabulary.empty()) metadata["vocabulary"] = nlohmann::json(state.vocabulary.bytes()).dump();
  if (!state.categories.empty()) metadata["categories"] = categories_to_json(state.categories);
  if (optimizer != nullptr) {
    metadata["optimizer"] = std::string(optimizer->type());
    metadata["optimizer_scalars"] = map_to_json(optimizer->state_scalars()).dump();
    for (const auto& [name, tensor] : optimizer->state_tensors())
      tensors.emplace_back("optim." + name, tensor);
  }
  for (const auto& item : extra) tensors.push_back(item);
  write_safetensors(path, tensors, metadata, dtypes);
}

LoadedCheckpoint read_checkpoint(const std::filesystem::path& path) {
  LoadedCheckpoint checkpoint;
  checkpoint.path = path;
  checkpoint.contents = read_safetensors(path);
  const auto format = checkpoint.contents.metadata.find("format");
  // Other writers keep their own `format` there (the Python safetensors library's torch helpers
  // and transformers write "pt"): those files are plain weights too.
  if (format == checkpoint.contents.metadata.end() || !format->second.starts_with("dlrun-checkpoint")) {
    return checkpoint;  // plain weights (e.g. from PyTorch)
  }
  if (format->second != kCheckpointFormat) {
    throw DataError(path.string() + ": unsupported checkpoint format '" + format->second +
                    "' (this dlrun reads " + std::string(kCheckpointFormat) + ")");
  }
  try {
    CheckpointState& s = checkpoint.state;
    s.config_yaml = metadata_field(checkpoint, "config");
    s.train = train_state_from_json(nlohmann::json::parse(metadata_field(checkpoint, "train_state")));
    s.progress = nlohmann::json::parse(metadata_field(checkpoint, "progress"));
    s.schedule = map_from_json(nlohmann::json::parse(metadata_field(checkpoint, "schedule")));
    s.early_stopping = map_from_json(nlohmann::json::parse(metadata_field(checkpoint, "early_stopping")));
    s.checkpointer = map_from_json(nlohmann::json::parse(metadata_field(checkpoint, "checkpointer")));
    s.provenance = nlohmann::json::parse(metadata_field(checkpoint, "provenance"));
    if (checkpoint.contents.metadata.contains("vocabulary")) {
      s.vocabulary = vocabulary_from_json(checkpoint.path,
                                          nlohmann::json::parse(metadata_field(checkpoint, "vocabulary")));
    }
    if (checkpoint.contents.metadata.contains("categories")) {
      s.categories = categories_from_json(checkpoint.path, metadata_field(checkpoint, "categories"));
    }
    if (checkpoint.contents.metadata.contains("optimizer")) {
      s.optimizer_type = metadata_field(checkpoint, "optimizer");
      s.optimizer_scalars =
          map_from_json(nlohmann::json::parse(metadata_field(checkpoint, "optimizer_scalars")));
    }
  } catch (const nlohmann::json::exception& error) {
    throw DataError(path.string() + ": malformed checkpoint metadata: " + error.what());
  }
  if (checkpoint.state.train.epoch < 0 || checkpoint.state.train.step_in_epoch < 0) {
    throw DataError(path.string() + ": malformed checkpoint metadata: negative epoch or step");
  }
  checkpoint.has_dlrun_state = true;
  return checkpoint;
}

void load_model_parameters(Model& model, const LoadedCheckpoint& checkpoint) {
  if (const auto format = checkpoint.contents.metadata.find("format");
      format != checkpoint.contents.metadata.end() && format->second == kQuantizedCheckpointFormat) {
    throw DataError(checkpoint.path.string() +
                    ": an int8 quantized model (dlrun quantize), which only eval and predict run; give the "
                    "float checkpoint it was made from");
  }
  for (const ParameterRef& ref : model.parameters()) {
    const Tensor* stored = checkpoint.contents.find(ref.name);
    if (stored == nullptr) {
      throw DataError(checkpoint.path.string() + ": the checkpoint has no tensor '" + ref.name +
                      "' that the model needs");
    }
    if (stored->shape() != ref.parameter->value.shape()) {
      throw DataError(checkpoint.path.string() + ": " + ref.name + " has shape " +
                      stored->shape().to_string() + ", the model expects " +
                      ref.parameter->value.shape().to_string());
    }
    ref.parameter->value = *stored;
  }
}

void load_optimizer_state(Optimizer& optimizer, const LoadedCheckpoint& checkpoint) {
  if (checkpoint.state.optimizer_type != optimizer.type()) {
    throw DataError(checkpoint.path.string() + ": the checkpoint's optimizer is '" +
                    checkpoint.state.optimizer_type + "', the config's is '" + std::string(optimizer.type()) +
                    "'");
  }
  for (const auto& [name, tensor] : optimizer.state_tensors()) {
    const Tensor* stored = checkpoint.contents.find("optim." + name);
    if (stored == nullptr || stored->shape() != tensor->shape()) {
      throw DataError(checkpoint.path.string() + ": optimizer state 'optim." + name +
                      "' is missing or misshapen");
    }
    *tensor = *stored;
  }
  optimizer.set_state_scalars(checkpoint.state.optimizer_scalars);
}

}  // namespace dlrun
