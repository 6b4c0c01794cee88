#include <doctest/doctest.h>

#include <vector>

#include "core/errors.hpp"
#include "core/tensor.hpp"
#include "support/allocation_counter.hpp"

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
  CHECK(shape.with_dim(2, 7) == Shape{2, 3, 7});
  CHECK_THROWS_AS(shape.with_dim(3, 7), ShapeError);
}

TEST_CASE("shape: dimensions are held inline up to kMaxRank; more is a ShapeError, never an allocation") {
  const std::vector<Index> eight(static_cast<std::size_t>(Shape::kMaxRank), 2);
  const Shape deepest(eight);
  CHECK(deepest.rank() == Shape::kMaxRank);
  CHECK(deepest.element_count() == 256);
  CHECK(deepest.without_batch().with_batch(2) == deepest);
  CHECK_THROWS_AS(deepest.with_batch(2), ShapeError);
  CHECK_THROWS_AS(Shape(std::vector<Index>(9, 1)), ShapeError);
  // Equality looks at the rank as well as the dimensions it holds.
  CHECK(Shape{2, 3} != Shape{2, 3, 0});
  CHECK(Shape{} == Shape(std::vector<Index>{}));

  testing::start_counting_allocations();
  Shape built = deepest.without_batch().with_dim(0, 5).with_batch(4);
  built = Shape{4, 5, 2, 2};
  const Shape copy = built;
  testing::stop_counting_allocations();
  CHECK(copy == Shape{4, 5, 2, 2});
  CHECK(testing::allocations_counted() == 0);
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
