#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "core/tensor.hpp"

using namespace dlrun;

TEST_CASE("shape: element count, rank, printing and batch axis") {
  const Shape shape{2, 3, 4};
  CHECK(shape.rank() == 3);
  CHECK(shape.element_count() == 24);
  CHECK(shape.to_string() == "[2, 3, 4]");
  CHECK(Shape{}.element_count() == 1);
  CHECK(shape.without_batch() == Shape{3, 4});
  CHECK(Shape{3, 4}.with_batch(5) == Shape{5, 3, 4});
  CHECK_THROWS_AS(shape[3], ShapeError);
}

TEST_CASE("tensor: storage is aligned, resize keeps capacity, reshape checks counts") {
  Tensor tensor(Shape{4, 5}, 1.5f);
  CHECK(tensor.size() == 20);
  CHECK(tensor[7] == 1.5f);
  CHECK(reinterpret_cast<std::uintptr_t>(tensor.data()) % 64 == 0);
  const float* before = tensor.data();
  tensor.resize(Shape{2, 5});
  CHECK(tensor.data() == before);
  CHECK(tensor.shape() == Shape{2, 5});
  tensor.reshape(Shape{10});
  CHECK(tensor.shape() == Shape{10});
  CHECK_THROWS_AS(tensor.reshape(Shape{3}), ShapeError);
}

TEST_CASE("tensor: sample() addresses one example of a batch") {
  Tensor batch(Shape{3, 2});
  for (Index i = 0; i < 6; ++i) batch[i] = static_cast<float>(i);
  const auto second = sample(batch, 1);
  REQUIRE(second.size() == 2);
  CHECK(second[0] == 2.0f);
  CHECK(second[1] == 3.0f);
}
