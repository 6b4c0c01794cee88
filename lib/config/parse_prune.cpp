// `prune:`: gradual magnitude pruning during training (DESIGN.md §3).
#include "config/sections.hpp"

namespace dlrun::detail {

PruneConfig parse_prune(const Node& node) {
  const std::string context = "prune";
  if (!node.is_map())
    throw ConfigError(node.where(), "prune: must be a mapping: {final_sparsity: 0.8, end_epoch: 5}");
  check_keys(node, context,
             {"initial_sparsity", "final_sparsity", "start_epoch", "end_epoch", "frequency", "frequency_unit",
              "scope"});
  Options options(node, context);
  PruneConfig config;
  config.initial_sparsity = options.number_in("initial_sparsity", config.initial_sparsity, 0.0, 1.0);
  config.final_sparsity = options.required_number("final_sparsity");
  options.require_in("final_sparsity", config.final_sparsity, 0.0, 1.0);
  if (config.final_sparsity < config.initial_sparsity) {
    options.fail("final_sparsity", "must be at least initial_sparsity");
  }
  config.start_epoch = options.number_at_least("start_epoch", config.start_epoch, 0.0);
  config.end_epoch = options.required_number("end_epoch");
  if (config.end_epoch <= config.start_epoch) options.fail("end_epoch", "must be after start_epoch");
  config.frequency = options.integer_at_least("frequency", config.frequency, 1);
  config.frequency_unit = options.choice("frequency_unit", config.frequency_unit, {"epochs", "steps"});
  config.scope = options.choice("scope", config.scope, {"global", "layer"});
  options.finish();
  return config;
}

}  // namespace dlrun::detail
