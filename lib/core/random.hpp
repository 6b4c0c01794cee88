// The seeded random number generator every random choice derives from: xoshiro256** seeded by
// splitmix64. Its state is four integers, so checkpoints store and restore it exactly, and the
// sequences are the same on every platform (unlike std:: distributions).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/tensor.hpp"

namespace dlrun {

class Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0);
  // An independent stream for one purpose ("init", "shuffle", "dropout", "split", ...), so that
  // adding a random choice in one place does not shift the numbers drawn in another.
  static Rng for_stream(std::uint64_t seed, std::string_view stream, std::uint64_t index = 0);

  std::uint64_t next_u64();
  double uniform();                       // [0, 1)
  float uniform(float low, float high);   // [low, high)
  double normal();                        // standard normal (Box-Muller, no cached spare)
  Index below(Index bound);               // uniform integer in [0, bound), unbiased
  void shuffle(std::span<Index> values);  // Fisher-Yates
  void fill_uniform(std::span<float> values, float low, float high);
  void fill_normal(std::span<float> values, float mean, float stddev);

  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  State state_{};
};

}  // namespace dlrun
