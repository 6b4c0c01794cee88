// Finding non-finite values: all_finite over floats, and find_non_finite's order (parameters,
// gradients, layer outputs) and messages.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "model/model_test_support.hpp"
#include "train/divergence.hpp"

using namespace dlrun;

TEST_CASE("divergence: all_finite rejects NaN and both infinities, accepts the largest floats") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float max = std::numeric_limits<float>::max();
  const float denormal = std::numeric_limits<float>::denorm_min();
  CHECK(all_finite(std::vector<float>{}));
  CHECK(all_finite(std::vector<float>{0.0f, -0.0f, max, -max, denormal, 1e-30f}));
  CHECK_FALSE(all_finite(std::vector<float>{1.0f, nan}));
  CHECK_FALSE(all_finite(std::vector<float>{inf, 1.0f}));
  CHECK_FALSE(all_finite(std::vector<float>{-inf}));
  // Past a vectorised block's length.
  std::vector<float> long_values(1000, 1.0f);
  long_values[997] = nan;
  CHECK_FALSE(all_finite(long_values));
}

TEST_CASE("divergence: find_non_finite names parameters first, then gradients, then outputs") {
  Model model = testing::build_model(
      "    - {type: dense, name: fc1, units: 3, activation: relu}\n"
      "    - {type: dense, name: out, units: 2}\n",
      Shape{4});
  Tensor input(Shape{2, 4}, 1.0f);
  model.forward(input, ForwardContext{});
  model.zero_grads();
  CHECK_FALSE(find_non_finite(model, -1).has_value());

  // A non-finite output of the layer before `depth` (parameters still finite).
  input[0] = std::numeric_limits<float>::infinity();
  model.forward(input, ForwardContext{});
  CHECK(find_non_finite(model, -1) == "the output of layer 'fc1' is not finite");

  auto parameters = model.parameters();
  parameters[3].parameter->grad[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK(find_non_finite(model, -1) == "the gradient of out.bias is not finite");
  parameters[2].parameter->value[1] = std::numeric_limits<float>::infinity();
  CHECK(find_non_finite(model, -1) == "parameter out.weight is not finite");
}
