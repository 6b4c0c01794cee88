#include "optim/optim_test_support.hpp"

#include <cmath>

#include "support/fixtures.hpp"

namespace dlrun::testing {

namespace {
Node value_node(const nlohmann::json& value, const Location& where) {
  if (value.is_array()) {
    Node sequence = Node::sequence(where);
    for (const auto& item : value) sequence.push_back(value_node(item, where));
    return sequence;
  }
  if (value.is_boolean()) return Node::scalar(value.get<bool>() ? "true" : "false", where);
  if (value.is_string()) return Node::scalar(value.get<std::string>(), where);
  if (value.is_number_integer()) return Node::scalar(std::to_string(value.get<long long>()), where);
  return Node::scalar(value.dump(), where);  // JSON's shortest round-trip form parses back exactly
}
}  // namespace

Node options_node(const nlohmann::json& object) {
  Node map = Node::map(Location{"test.yaml", 1, 1});
  int index = 0;
  for (const auto& [key, value] : object.items()) {
    map.set(key, value_node(value, option_location(index)), Location{"test.yaml", index + 1, 3});
    ++index;
  }
  return map;
}

LeastSquares::LeastSquares(const nlohmann::json& problem)
    : x(tensor_from_json(problem.at("x"))), y(tensor_from_json(problem.at("y"))) {
  weight.name = "weight";
  weight.value = tensor_from_json(problem.at("weight"));
  weight.grad = Tensor(weight.value.shape());
  bias.name = "bias";
  bias.value = tensor_from_json(problem.at("bias"));
  bias.grad = Tensor(bias.value.shape());
}

double LeastSquares::loss_and_gradients() {
  const Index n = x.shape()[0], in = x.shape()[1], out = y.shape()[1];
  const double scale = 1.0 / static_cast<double>(n * out);
  std::vector<double> grad_weight(static_cast<std::size_t>(out * in), 0.0);
  std::vector<double> grad_bias(static_cast<std::size_t>(out), 0.0);
  double loss = 0.0;
  for (Index row = 0; row < n; ++row) {
    for (Index o = 0; o < out; ++o) {
      double prediction = bias.value[o];
      for (Index i = 0; i < in; ++i)
        prediction += static_cast<double>(weight.value[o * in + i]) * x[row * in + i];
      const double residual = prediction - y[row * out + o];
      loss += residual * residual * scale;
      const double g = 2.0 * residual * scale;
      grad_bias[static_cast<std::size_t>(o)] += g;
      for (Index i = 0; i < in; ++i) grad_weight[static_cast<std::size_t>(o * in + i)] += g * x[row * in + i];
    }
  }
  for (Index i = 0; i < weight.grad.size(); ++i)
    weight.grad[i] = static_cast<float>(grad_weight[static_cast<std::size_t>(i)]);
  for (Index i = 0; i < bias.grad.size(); ++i)
    bias.grad[i] = static_cast<float>(grad_bias[static_cast<std::size_t>(i)]);
  return loss;
}

std::vector<float> LeastSquares::flat_parameters() const {
  std::vector<float> flat(weight.value.values().begin(), weight.value.values().end());
  flat.insert(flat.end(), bias.value.values().begin(), bias.value.values().end());
  return flat;
}

bool close(double actual, double expected, double rtol, double atol) {
  return std::abs(actual - expected) <= rtol * std::abs(expected) + atol;
}

}  // namespace dlrun::testing
