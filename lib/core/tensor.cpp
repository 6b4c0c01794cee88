#include "core/tensor.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {

Index Shape::operator[](Index axis) const {
  if (axis < 0 || axis >= rank()) {
    throw ShapeError("axis " + std::to_string(axis) + " out of range for shape " + to_string());
  }
  return dims_[static_cast<std::size_t>(axis)];
}

Index Shape::element_count() const {
  Index count = 1;
  for (const Index d : dims_) count *= d;
  return count;
}

std::string Shape::to_string() const {
  std::string text = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims_[i]);
  }
  return text + "]";
}

Shape Shape::with_batch(Index n) const {
  std::vector<Index> dims{n};
  dims.insert(dims.end(), dims_.begin(), dims_.end());
  return Shape(std::move(dims));
}

Shape Shape::without_batch() const {
  if (dims_.empty()) throw ShapeError("cannot drop the batch axis of a rank-0 shape");
  return Shape(std::vector<Index>(dims_.begin() + 1, dims_.end()));
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
