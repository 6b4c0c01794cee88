#include "core/random.hpp"

#include <cmath>
#include <numbers>
#include <utility>

namespace dlrun {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001B3ull;
  }
  return hash;
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& word : state_) word = splitmix64(x);
}

Rng Rng::for_stream(std::uint64_t seed, std::string_view stream, std::uint64_t index) {
  std::uint64_t x = seed ^ fnv1a(stream);
  const std::uint64_t mixed = splitmix64(x) ^ (index * 0xD1B54A32D192ED03ull);
  return Rng(mixed);
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

float Rng::uniform(float low, float high) {
  const float value = low + (high - low) * static_cast<float>(uniform());
  return value < high ? value : low;  // rounding can reach `high`; keep the interval half-open
}

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

Index Rng::below(Index bound) {
  if (bound <= 1) return 0;
  const auto n = static_cast<std::uint64_t>(bound);
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // reject the biased tail
  std::uint64_t x = next_u64();
  while (x >= limit) x = next_u64();
  return static_cast<Index>(x % n);
}

void Rng::shuffle(std::span<Index> values) {
  for (Index i = static_cast<Index>(values.size()) - 1; i > 0; --i) {
    std::swap(values[static_cast<std::size_t>(i)], values[static_cast<std::size_t>(below(i + 1))]);
  }
}

void Rng::fill_uniform(std::span<float> values, float low, float high) {
  for (float& v : values) v = uniform(low, high);
}

void Rng::fill_normal(std::span<float> values, float mean, float stddev) {
  for (float& v : values) v = mean + stddev * static_cast<float>(normal());
}

}  // namespace dlrun
