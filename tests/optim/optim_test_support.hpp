// Helpers for the lib/optim tests: option mappings built as config Nodes (as the YAML loader
// would, with locations), the least-squares objective the fixtures use, and float comparisons.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "layers/layer.hpp"
#include "optim/optimizer.hpp"

namespace dlrun::testing {

// A mapping Node from a JSON object (whose keys nlohmann::json keeps sorted); key i is placed at
// test.yaml:(i+1):3, its value at column 10, so tests can check error locations.
Node options_node(const nlohmann::json& object);
inline Location option_location(int index) {
  return Location{"test.yaml", index + 1, 10};
}

// y = W x + b with the MSE over all outputs, on fixed data: the fixtures' least-squares problem.
struct LeastSquares {
  Tensor x;          // (N, in)
  Tensor y;          // (N, out)
  Parameter weight;  // (out, in)
  Parameter bias;    // (out)
  explicit LeastSquares(const nlohmann::json& problem);
  // The loss at the current parameters; ASSIGNS the gradients (computed in double).
  double loss_and_gradients();
  std::vector<ParameterRef> parameters() { return {{"fc.weight", &weight}, {"fc.bias", &bias}}; }
  std::vector<float> flat_parameters() const;
};

// |actual - expected| <= rtol * |expected| + atol
bool close(double actual, double expected, double rtol, double atol);

}  // namespace dlrun::testing
