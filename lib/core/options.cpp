#include "core/options.hpp"

#include <cmath>
#include <cstdio>

namespace dlrun {

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

Options::Options(const Node& node, std::string context, std::vector<std::string> ignored)
    : node_(node), context_(std::move(context)) {
  if (!node_.is_map() && !node_.is_null()) {
    throw ConfigError(node_.where(), context_ + ": expected a mapping of options, got " + node_.kind_name());
  }
  for (auto& key : ignored) used_.insert(std::move(key));
}

bool Options::has(std::string_view key) const {
  return node_.is_map() && node_.find(key) != nullptr;
}

const Node* Options::lookup(std::string_view key) {
  used_.insert(std::string(key));
  if (!node_.is_map()) return nullptr;
  const Node* value = node_.find(key);
  if (value != nullptr && value->is_null()) return nullptr;  // `key:` with no value = default
  return value;
}

const Node* Options::raw(std::string_view key) {
  return lookup(key);
}

Location Options::where(std::string_view key) const {
  if (node_.is_map()) {
    for (const auto& entry : node_.entries()) {
      if (entry.key == key) return entry.value.where().known() ? entry.value.where() : entry.key_where;
    }
  }
  return node_.where();
}

void Options::fail(std::string_view key, std::string_view message) const {
  throw ConfigError(where(key), context_ + ": " + std::string(key) + ": " + std::string(message));
}

double Options::number(std::string_view key, double fallback) {
  const Node* value = lookup(key);
  return value ? value->as_double(context_ + ": " + std::string(key)) : fallback;
}

double Options::required_number(std::string_view key) {
  const Node* value = lookup(key);
  if (!value) fail(key, "is required");
  return value->as_double(context_ + ": " + std::string(key));
}

Index Options::integer(std::string_view key, Index fallback) {
  const Node* value = lookup(key);
  return value ? value->as_int(context_ + ": " + std::string(key)) : fallback;
}

Index Options::required_integer(std::string_view key) {
  const Node* value = lookup(key);
  if (!value) fail(key, "is required");
  return value->as_int(context_ + ": " + std::string(key));
}

bool Options::boolean(std::string_view key, bool fallback) {
  const Node* value = lookup(key);
  return value ? value->as_bool(context_ + ": " + std::string(key)) : fallback;
}

std::string Options::string(std::string_view key, std::string fallback) {
  const Node* value = lookup(key);
  return value ? value->as_string(context_ + ": " + std::string(key)) : fallback;
}

std::string Options::required_string(std::string_view key) {
  const Node* value = lookup(key);
  if (!value) fail(key, "is required");
  return value->as_string(context_ + ": " + std::string(key));
}

std::string Options::choice(std::string_view key, std::string fallback,
                            const std::vector<std::string>& allowed) {
  std::string value = string(key, std::move(fallback));
  for (const auto& candidate : allowed) {
    if (candidate == value) return value;
  }
  std::string list;
  for (const auto& candidate : allowed) list += (list.empty() ? "" : ", ") + candidate;
  fail(key, "unknown value '" + value + "'" + did_you_mean(value, allowed) + "; allowed: " + list);
}

std::vector<Index> Options::integers(std::string_view key, std::vector<Index> fallback, std::size_t count) {
  const Node* value = lookup(key);
  if (!value) return fallback;
  const std::string what = context_ + ": " + std::string(key);
  if (value->is_scalar()) return std::vector<Index>(count, value->as_int(what));
  if (!value->is_sequence() || value->items().size() != count) {
    fail(key, "expected an integer or a list of " + std::to_string(count) + " integers");
  }
  std::vector<Index> result;
  for (const Node& item : value->items()) result.push_back(item.as_int(what));
  return result;
}

std::vector<double> Options::numbers(std::string_view key, std::vector<double> fallback) {
  const Node* value = lookup(key);
  if (!value) return fallback;
  const std::string what = context_ + ": " + std::string(key);
  if (!value->is_sequence()) fail(key, "expected a list of numbers");
  std::vector<double> result;
  for (const Node& item : value->items()) result.push_back(item.as_double(what));
  return result;
}

void Options::require_positive(std::string_view key, double value) {
  if (!(value > 0.0)) fail(key, "must be > 0, got " + format_number(value));
}

void Options::require_at_least(std::string_view key, double value, double minimum) {
  if (!(value >= minimum))
    fail(key, "must be >= " + format_number(minimum) + ", got " + format_number(value));
}

void Options::require_in(std::string_view key, double value, double low, double high, bool high_open) {
  const bool ok = value >= low && (high_open ? value < high : value <= high);
  if (!ok) {
    fail(key, "must be in [" + format_number(low) + ", " + format_number(high) + (high_open ? ")" : "]") +
                  ", got " + format_number(value));
  }
}

double Options::positive_number(std::string_view key, double fallback) {
  const double value = number(key, fallback);
  require_positive(key, value);
  return value;
}

double Options::number_at_least(std::string_view key, double fallback, double minimum) {
  const double value = number(key, fallback);
  require_at_least(key, value, minimum);
  return value;
}

Index Options::integer_at_least(std::string_view key, Index fallback, Index minimum) {
  const Index value = integer(key, fallback);
  require_at_least(key, static_cast<double>(value), static_cast<double>(minimum));
  return value;
}

double Options::number_in(std::string_view key, double fallback, double low, double high, bool high_open) {
  const double value = number(key, fallback);
  require_in(key, value, low, high, high_open);
  return value;
}

void Options::finish(const std::vector<std::string>& known) const {
  if (!node_.is_map()) return;
  for (const auto& entry : node_.entries()) {
    if (used_.contains(entry.key)) continue;
    const std::string what = context_.empty() ? "unknown key '" : context_ + ": unknown option '";
    throw ConfigError(entry.key_where.known() ? entry.key_where : node_.where(),
                      what + entry.key + "'" + did_you_mean(entry.key, known));
  }
}

void Options::finish() const {
  finish(std::vector<std::string>(used_.begin(), used_.end()));
}

}  // namespace dlrun
