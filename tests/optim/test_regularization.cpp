// Weight penalties (value and finite-difference gradient), gradient clipping by norm and by
// value, and Keras's MaxNorm per output unit.
#include <doctest/doctest.h>

#include <cmath>

#include "optim/regularization.hpp"

using namespace dlrun;

namespace {

Parameter make_parameter(Shape shape, std::vector<float> values, float grad_fill = 0.0f) {
  Parameter parameter{"p", Tensor(shape), Tensor(shape, grad_fill)};
  for (std::size_t i = 0; i < values.size(); ++i) parameter.value[static_cast<Index>(i)] = values[i];
  return parameter;
}

double row_norm(const Parameter& parameter, Index row, Index width) {
  double sum = 0.0;
  for (Index i = 0; i < width; ++i) sum += std::pow(parameter.value[row * width + i], 2);
  return std::sqrt(sum);
}

}  // namespace

TEST_CASE("add_weight_penalties: l1 * sum|w| + l2 * sum w^2, its gradient accumulated into grad") {
  Parameter a = make_parameter(Shape{2, 2}, {0.5f, -1.5f, 2.0f, 0.0f}, 10.0f);
  Parameter b = make_parameter(Shape{3}, {-0.25f, 0.75f, 1.0f}, 0.0f);
  const std::vector<PenaltyTarget> targets = {{&a, 0.01, 0.1}, {&b, 0.0, 0.5}};
  const double penalty = add_weight_penalties(targets);
  const double expected =
      0.01 * (0.5 + 1.5 + 2.0) + 0.1 * (0.25 + 2.25 + 4.0) + 0.5 * (0.0625 + 0.5625 + 1.0);
  CHECK(penalty == doctest::Approx(expected).epsilon(1e-12));
  // Accumulated onto the existing 10: l1 sign(w) + 2 l2 w, and sign(0) = 0.
  CHECK(a.grad[0] == doctest::Approx(10.0 + 0.01 + 0.2 * 0.5));
  CHECK(a.grad[1] == doctest::Approx(10.0 - 0.01 - 0.2 * 1.5));
  CHECK(a.grad[3] == doctest::Approx(10.0));
  CHECK(b.grad[0] == doctest::Approx(-0.25));
}

TEST_CASE("add_weight_penalties: the gradient matches central differences away from 0") {
  const std::vector<float> values = {0.7f, -0.3f, 1.2f, -2.1f, 0.05f, -0.6f};
  Parameter parameter = make_parameter(Shape{2, 3}, values);
  const PenaltyTarget target{&parameter, 0.03, 0.2};
  add_weight_penalties(std::span(&target, 1));
  const Tensor analytic = parameter.grad;
  const double h = 1e-3;
  for (Index i = 0; i < parameter.value.size(); ++i) {
    CAPTURE(i);
    const auto penalty_at = [&](double delta) {
      Parameter probe = make_parameter(Shape{2, 3}, values);
      probe.value[i] = static_cast<float>(values[static_cast<std::size_t>(i)] + delta);
      const PenaltyTarget t{&probe, target.l1, target.l2};
      return add_weight_penalties(std::span(&t, 1));
    };
    const double numeric = (penalty_at(h) - penalty_at(-h)) / (2 * h);
    CHECK(analytic[i] == doctest::Approx(numeric).epsilon(1e-3));
  }
}

TEST_CASE("clip_grad_norm: scales all trainable grads by max_norm / (total + 1e-6) when above") {
  Parameter a = make_parameter(Shape{2}, {0, 0});
  a.grad[0] = 3.0f;
  a.grad[1] = 4.0f;
  Parameter b = make_parameter(Shape{1}, {0});
  b.grad[0] = 12.0f;
  Parameter buffer = make_parameter(Shape{1}, {0}, 100.0f);
  buffer.trainable = false;
  const std::vector<ParameterRef> refs = {{"a", &a}, {"b", &b}, {"buffer", &buffer}};
  const double total = clip_grad_norm(refs, 6.5);
  CHECK(total == doctest::Approx(13.0));
  const double coefficient = 6.5 / (13.0 + 1e-6);
  CHECK(a.grad[0] == doctest::Approx(3.0 * coefficient).epsilon(1e-7));
  CHECK(a.grad[1] == doctest::Approx(4.0 * coefficient).epsilon(1e-7));
  CHECK(b.grad[0] == doctest::Approx(12.0 * coefficient).epsilon(1e-7));
  CHECK(buffer.grad[0] == 100.0f);
  // Below the limit nothing changes; the norm is still returned.
  CHECK(clip_grad_norm(refs, 100.0) == doctest::Approx(6.5).epsilon(1e-6));
  CHECK(b.grad[0] == doctest::Approx(12.0 * coefficient).epsilon(1e-7));
  // A non-finite norm comes back for the trainer to report.
  a.grad[0] = std::numeric_limits<float>::infinity();
  CHECK(std::isinf(clip_grad_norm(refs, 1.0)));
  CHECK_THROWS_AS(clip_grad_norm(refs, 0.0), InternalError);
}

TEST_CASE("clip_grad_value: clamps each trainable grad element") {
  Parameter a = make_parameter(Shape{4}, {0, 0, 0, 0});
  const std::vector<float> grads = {-3.0f, -0.5f, 0.25f, 7.0f};
  for (Index i = 0; i < 4; ++i) a.grad[i] = grads[static_cast<std::size_t>(i)];
  Parameter buffer = make_parameter(Shape{1}, {0}, 100.0f);
  buffer.trainable = false;
  const std::vector<ParameterRef> refs = {{"a", &a}, {"buffer", &buffer}};
  clip_grad_value(refs, 1.0);
  CHECK(a.grad[0] == -1.0f);
  CHECK(a.grad[1] == -0.5f);
  CHECK(a.grad[2] == 0.25f);
  CHECK(a.grad[3] == 1.0f);
  CHECK(buffer.grad[0] == 100.0f);
}

TEST_CASE("apply_max_norm: each output unit's incoming weights, as Keras's MaxNorm") {
  // Dense [out=2, in=3]: row norms 5 and 0.5.
  Parameter dense = make_parameter(Shape{2, 3}, {3, 4, 0, 0.3f, 0, 0.4f});
  apply_max_norm(dense, 1.0);
  CHECK(row_norm(dense, 0, 3) == doctest::Approx(5.0 / (5.0 + 1e-7)));
  CHECK(dense.value[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(row_norm(dense, 1, 3) == doctest::Approx(0.5 * 0.5 / (0.5 + 1e-7)));  // below: (almost) unchanged
  CHECK(dense.value[3] == doctest::Approx(0.3).epsilon(1e-6));
  // Conv [out=2, in=1, 2, 2]: per filter.
  Parameter conv = make_parameter(Shape{2, 1, 2, 2}, {2, 2, 2, 2, 0.1f, 0.1f, 0.1f, 0.1f});
  apply_max_norm(conv, 2.0);
  CHECK(row_norm(conv, 0, 4) == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(conv.value[4] == doctest::Approx(0.1).epsilon(1e-6));
  // Rank 1: the whole vector.
  Parameter vector = make_parameter(Shape{2}, {6, 8});
  apply_max_norm(vector, 5.0);
  CHECK(vector.value[0] == doctest::Approx(3.0).epsilon(1e-6));
  CHECK(vector.value[1] == doctest::Approx(4.0).epsilon(1e-6));
}
