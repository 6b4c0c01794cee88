// Sizing a layer's buffers per batch without allocating: a Shape is a heap vector, so building one
// for every resize would allocate on every batch. These compare the dimensions first and build a
// Shape only when they change (the first batch, a short last batch).
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
