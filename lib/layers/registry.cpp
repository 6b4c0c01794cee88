#include "layers/registry.hpp"

namespace dlrun {

void LayerRegistry::add(std::string type, LayerFactory factory) {
  require(!factories_.contains(type), "layer type registered twice: " + type);
  factories_.emplace(std::move(type), std::move(factory));
}

bool LayerRegistry::contains(std::string_view type) const {
  return factories_.find(type) != factories_.end();
}

std::vector<std::string> LayerRegistry::types() const {
  std::vector<std::string> result;
  for (const auto& [type, factory] : factories_) result.push_back(type);
  return result;
}

std::unique_ptr<Layer> LayerRegistry::build(const std::string& type, const Location& type_where,
                                            Options& options, const LayerBuildContext& context) const {
  const auto found = factories_.find(type);
  if (found == factories_.end()) {
    throw ConfigError(type_where, "unknown layer type '" + type + "'" + did_you_mean(type, types()));
  }
  std::unique_ptr<Layer> layer = found->second(options, context);
  options.finish();
  return layer;
}

}  // namespace dlrun
