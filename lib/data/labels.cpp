#include "data/labels.hpp"

#include <algorithm>

namespace dlrun {
namespace {

template <typename T>
std::vector<std::int32_t> indices_in(const std::vector<T>& distinct, std::span<const T> values) {
  std::vector<std::int32_t> labels;
  labels.reserve(values.size());
  for (const T& value : values) {
    const auto at = std::lower_bound(distinct.begin(), distinct.end(), value);
    labels.push_back(static_cast<std::int32_t>(at - distinct.begin()));
  }
  return labels;
}

template <typename T>
std::vector<T> sorted_distinct(std::span<const T> values) {
  std::vector<T> distinct(values.begin(), values.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  return distinct;
}

}  // namespace

ClassLabels integer_classes(std::span<const std::int64_t> values) {
  const std::vector<std::int64_t> distinct = sorted_distinct(values);
  ClassLabels classes;
  classes.labels = indices_in(distinct, values);
  for (const std::int64_t value : distinct) classes.names.push_back(std::to_string(value));
  return classes;
}

ClassLabels string_classes(std::span<const std::string> values) {
  ClassLabels classes;
  classes.names = sorted_distinct(values);
  classes.labels = indices_in(classes.names, values);
  return classes;
}

}  // namespace dlrun
