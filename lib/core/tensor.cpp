#include "core/tensor.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {

Shape::Shape(std::span<const Index> dims) : rank_(static_cast<Index>(dims.size())) {
  if (rank_ > kMaxRank) {
    throw ShapeError("a shape of rank " + std::to_string(rank_) + " exceeds dlrun's limit of " +
                     std::to_string(kMaxRank) + " dimensions");
  }
  std::copy(dims.begin(), dims.end(), dims_.begin());
}

Index Shape::operator[](Index axis) const {
  if (axis < 0 || axis >= rank()) {
    throw ShapeError("axis " + std::to_string(axis) + " out of range for shape " + to_string());
  }
  return dims_[static_cast<std::size_t>(axis)];
}

Index Shape::element_count() const {
  Index count = 1;
  for (const Index d : dims()) count *= d;
  return count;
}

std::string Shape::to_string() const {
  std::string text = "[";
  for (Index i = 0; i < rank_; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return text + "]";
}

Shape Shape::with_batch(Index n) const {
  if (rank_ == kMaxRank)
    throw ShapeError("cannot add a batch axis to " + to_string() + ": rank limit reached");
  Shape shape;
  shape.rank_ = rank_ + 1;
  shape.dims_[0] = n;
  std::copy_n(dims_.begin(), rank_, shape.dims_.begin() + 1);
  return shape;
}

Shape Shape::without_batch() const {
  if (rank_ == 0) throw ShapeError("cannot drop the batch axis of a rank-0 shape");
  return Shape(dims().subspan(1));
}

Shape Shape::with_dim(Index axis, Index size) const {
  if (axis < 0 || axis >= rank_) {
    throw ShapeError("axis " + std::to_string(axis) + " out of range for shape " + to_string());
  }
  Shape shape = *this;
  shape.dims_[static_cast<std::size_t>(axis)] = size;
  return shape;
}

bool operator==(const Shape& a, const Shape& b) {
  return std::ranges::equal(a.dims(), b.dims());
}

Tensor::Tensor(Shape shape, float fill_value)
    : shape_(std::move(shape)),
      size_(shape_.element_count()),
      values_(static_cast<std::size_t>(size_), fill_value) {}

void Tensor::resize(const Shape& shape) {
  shape_ = shape;
  size_ = shape.element_count();
  if (static_cast<std::size_t>(size_) > values_.size()) values_.resize(static_cast<std::size_t>(size_));
}

void Tensor::reshape(const Shape& shape) {
  if (shape.element_count() != size()) {
    throw ShapeError("cannot reshape " + shape_.to_string() + " to " + shape.to_string());
  }
  shape_ = shape;
}

void Tensor::fill(float value) {
  std::fill_n(values_.begin(), size_, value);
}

std::span<float> sample(Tensor& batch, Index n) {
  const Index per_sample = batch.size() / batch.shape()[0];
  return batch.values().subspan(static_cast<std::size_t>(n * per_sample),
                                static_cast<std::size_t>(per_sample));
}

std::span<const float> sample(const Tensor& batch, Index n) {
  const Index per_sample = batch.size() / batch.shape()[0];
  return batch.values().subspan(static_cast<std::size_t>(n * per_sample),
                                static_cast<std::size_t>(per_sample));
}

}  // namespace dlrun
