#include "train/callback.hpp"

#include <limits>

namespace dlrun {

double EpochReport::metric(std::string_view name) const {
  if (name.starts_with("val_")) return metric_value(validation, name.substr(4));
  if (name.starts_with("train_")) return metric_value(train, name.substr(6));
  if (name == "lr") return learning_rate;
  return metric_value(train, name);
}

}  // namespace dlrun
