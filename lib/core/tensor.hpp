// Shape and Tensor: a shape plus contiguous, 64-byte aligned float32 storage, row-major, NCHW.
// No views and no strides; layers keep their buffers across batches and resize() keeps capacity,
// so steady-state training does not allocate.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <span>
#include <string>
#include <vector>

namespace dlrun {

using Index = std::int64_t;  // every count and size; never int

// Dimensions, outermost first: (N, C, H, W) for images, (N, F) for features, (N, T, F) sequences.
// Held inline (at most kMaxRank of them), so building, copying and comparing a Shape never
// allocates: every layer builds its output Shape on every forward, and the training step must not
// allocate after the first batch (tests/train/test_no_allocation.cpp).
class Shape {
 public:
  static constexpr Index kMaxRank = 8;  // attention's head-major (3, N, heads, T, d) is the deepest

  Shape() = default;
  Shape(std::initializer_list<Index> dims) : Shape(std::span<const Index>(dims.begin(), dims.size())) {}
  explicit Shape(std::span<const Index> dims);  // throws ShapeError above kMaxRank dimensions
  explicit Shape(const std::vector<Index>& dims) : Shape(std::span<const Index>(dims)) {}

  Index rank() const { return rank_; }
  Index operator[](Index axis) const;  // throws ShapeError when out of range
  Index element_count() const;         // product of dims; 1 for rank 0
  std::span<const Index> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }
  std::string to_string() const;  // "[8, 3, 32, 32]"
  // The same shape with a new outermost (batch) dimension in front.
  Shape with_batch(Index n) const;
  // The shape without its outermost dimension.
  Shape without_batch() const;
  // The same shape with dimension `axis` set to `size`.
  Shape with_dim(Index axis, Index size) const;
  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<Index, kMaxRank> dims_{};  // entries at rank_ and beyond stay 0
  Index rank_ = 0;
};

// Minimal allocator giving 64-byte aligned storage (cache lines, AVX-512 loads).
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlignment); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

using FloatBuffer = std::vector<float, AlignedAllocator<float>>;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill_value = 0.0f);

  const Shape& shape() const { return shape_; }
  Index size() const { return size_; }
  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  std::span<float> values() { return {values_.data(), static_cast<std::size_t>(size_)}; }
  std::span<const float> values() const { return {values_.data(), static_cast<std::size_t>(size_)}; }
  float& operator[](Index i) { return values_[static_cast<std::size_t>(i)]; }
  float operator[](Index i) const { return values_[static_cast<std::size_t>(i)]; }

  // Changes the shape. The storage only ever grows, so a buffer that alternates between sizes (the
  // model's gradient buffers, a short last batch) neither reallocates nor re-zeroes: after a
  // resize the values are unspecified and callers assign them.
  void resize(const Shape& shape);
  // Same element count, new shape; throws ShapeError otherwise.
  void reshape(const Shape& shape);
  void fill(float value);
  void zero() { fill(0.0f); }

 private:
  Shape shape_;
  Index size_ = 0;  // shape_.element_count(); values_ may hold more (capacity from earlier sizes)
  FloatBuffer values_;
};

// The n-th sample of a batch tensor (outermost axis), as a span.
std::span<float> sample(Tensor& batch, Index n);
std::span<const float> sample(const Tensor& batch, Index n);

}  // namespace dlrun
