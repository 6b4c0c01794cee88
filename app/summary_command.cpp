// dlrun summary (Keras's model.summary() plus FLOPs) and dlrun check (validate, print resolved).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "config/emit.hpp"
#include "train/experiment.hpp"

namespace dlrun::app {
namespace {

std::string with_thousands(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

std::string human_flops(double flops) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int unit = 0;
  while (flops >= 1000.0 && unit < 4) {
    flops /= 1000.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f%s" : "%.2f%s", flops, units[unit]);
  return buffer;
}

// The summary as one JSON object, for scripts: the layers with their output shapes (without the
// batch axis), parameters and forward FLOPs per example, and the totals.
void print_summary_json(Experiment& experiment) {
  const Model& model = experiment.model;
  nlohmann::json layers = nlohmann::json::array();
  double flops = 0.0;
  for (const auto& row : model.summary()) {
    layers.push_back({{"name", row.name},
                      {"type", row.type},
                      {"output_shape", row.output_shape.dims()},
                      {"parameters", row.parameters},
                      {"flops", row.flops}});
    flops += row.flops;
  }
  Index total = 0, trainable = 0;
  for (const auto& ref : experiment.model.parameters()) {
    total += ref.parameter->value.size();
    if (ref.parameter->trainable) trainable += ref.parameter->value.size();
  }
  print_json_line({{"command", "summary"},
                   {"name", experiment.config.name},
                   {"input_shape", model.input_shape().dims()},
                   {"layers", layers},
                   {"parameters", total},
                   {"trainable_parameters", trainable},
                   {"flops_per_example", flops}});
}

}  // namespace

int run_summary(const CommonOptions& common, bool json) {
  auto experiment = prepare_experiment(load_config_with_flags(common));
  if (json) {
    print_summary_json(*experiment);
    return 0;
  }
  const Model& model = experiment->model;
  const auto rows = model.summary();
  std::size_t name_width = 5, type_width = 4;
  for (const auto& row : rows) {
    name_width = std::max(name_width, row.name.size());
    type_width = std::max(type_width, row.type.size());
  }
  const std::string rule(name_width + type_width + 58, '-');
  std::printf("Model: %s (input %s)\n%s\n", experiment->config.name.c_str(),
              model.input_shape().to_string().c_str(), rule.c_str());
  std::printf("%-*s  %-*s  %-18s %14s %18s\n", static_cast<int>(name_width), "Layer",
              static_cast<int>(type_width), "Type", "Output shape", "Params", "FLOPs/example");
  std::printf("%s\n", rule.c_str());
  Index total = 0, trainable = 0;
  double flops = 0.0;
  for (const auto& row : rows) {
    std::printf("%-*s  %-*s  %-18s %14s %18s\n",
                static_cast<int>(row.name.size() > name_width ? row.name.size() : name_width),
                row.name.c_str(), static_cast<int>(type_width), row.type.c_str(),
                row.output_shape.to_string().c_str(),
                with_thousands(static_cast<double>(row.parameters)).c_str(), human_flops(row.flops).c_str());
    flops += row.flops;
  }
  for (const auto& ref : experiment->model.parameters()) {
    total += ref.parameter->value.size();
    if (ref.parameter->trainable) trainable += ref.parameter->value.size();
  }
  std::printf("%s\n", rule.c_str());
  std::printf("Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n",
              with_thousands(static_cast<double>(total)).c_str(),
              with_thousands(static_cast<double>(trainable)).c_str(),
              with_thousands(static_cast<double>(total - trainable)).c_str());
  std::printf("FLOPs per example (forward): %s\n", human_flops(flops).c_str());
  return 0;
}

int run_check(const CommonOptions& common) {
  Config config = load_config_with_flags(common);
  const std::string resolved = to_yaml(config.tree);
  prepare_experiment(std::move(config));  // builds the model and optimizer: every option is checked
  std::cout << resolved;
  return 0;
}

}  // namespace dlrun::app
