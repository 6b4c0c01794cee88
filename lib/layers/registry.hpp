// The layer registry: the config's `type` -> a factory that reads and validates its own options
// and builds the layer for a known input shape. An instance, not a global; one explicit table in
// builtin_layers.cpp (no self-registration).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "layers/layer.hpp"

namespace dlrun {

struct LayerBuildContext {
  std::string name;    // the layer's name, for messages ("layer 'fc1' (dense)")
  Shape input_shape;   // with the batch axis first (its size is arbitrary, usually 1)
  Rng* rng = nullptr;  // the init stream
};

// Reads its options (throwing ConfigError at the key), builds the layer; the registry then calls
// options.finish() so unknown keys are errors everywhere.
using LayerFactory =
    std::function<std::unique_ptr<Layer>(Options& options, const LayerBuildContext& context)>;

class LayerRegistry {
 public:
  void add(std::string type, LayerFactory factory);
  bool contains(std::string_view type) const;
  std::vector<std::string> types() const;
  // Throws ConfigError (with did-you-mean) for an unknown type, and for unknown options.
  std::unique_ptr<Layer> build(const std::string& type, const Location& type_where, Options& options,
                               const LayerBuildContext& context) const;

 private:
  std::map<std::string, LayerFactory, std::less<>> factories_;
};

// Every layer type dlrun knows, one line per type.
LayerRegistry make_builtin_layer_registry();

}  // namespace dlrun
