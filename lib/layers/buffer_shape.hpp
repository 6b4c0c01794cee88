// Sizing a layer's buffers per batch: a shorthand that compares the dimensions first and resizes
// only when they change (the first batch, a short last batch). Neither path allocates once the
// buffer has grown to its largest size (a Shape holds its dimensions inline).
#pragma once

#include <algorithm>
#include <initializer_list>

#include "core/tensor.hpp"

namespace dlrun {

inline bool has_dims(const Tensor& tensor, std::initializer_list<Index> dims) {
  const auto& have = tensor.shape().dims();
  return have.size() == dims.size() && std::equal(dims.begin(), dims.end(), have.begin());
}

// tensor.resize(Shape(dims)) unless it has these dimensions already.
inline void resize_buffer(Tensor& tensor, std::initializer_list<Index> dims) {
  if (!has_dims(tensor, dims)) tensor.resize(Shape(dims));
}

}  // namespace dlrun
