// The loss table: name -> options -> Loss.
#include <algorithm>

#include "core/errors.hpp"
#include "losses/binary_cross_entropy.hpp"
#include "losses/cross_entropy.hpp"
#include "losses/loss.hpp"
#include "losses/regression_losses.hpp"

namespace dlrun {

std::vector<std::string> loss_types() {
  return {"binary_cross_entropy", "cross_entropy", "huber", "mae", "mse"};
}

std::unique_ptr<Loss> make_loss(const std::string& type, const Location& type_where, Options& options) {
  std::unique_ptr<Loss> loss;
  if (type == "cross_entropy") {
    const double smoothing = options.number("label_smoothing", 0.0);
    options.require_in("label_smoothing", smoothing, 0.0, 1.0);
    loss = std::make_unique<CrossEntropyLoss>(smoothing);
  } else if (type == "binary_cross_entropy") {
    loss = std::make_unique<BinaryCrossEntropyLoss>();
  } else if (type == "mse") {
    loss = std::make_unique<RegressionLoss>(RegressionKind::mse);
  } else if (type == "mae") {
    loss = std::make_unique<RegressionLoss>(RegressionKind::mae);
  } else if (type == "huber") {
    const double delta = options.number("delta", 1.0);
    options.require_positive("delta", delta);
    loss = std::make_unique<RegressionLoss>(RegressionKind::huber, delta);
  } else {
    std::string known;
    for (const auto& name : loss_types()) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError(type_where,
                      "unknown loss '" + type + "'" + did_you_mean(type, loss_types()) + "; known: " + known);
  }
  options.finish();  // an option of another loss (delta on mse) is an unknown key here
  return loss;
}

}  // namespace dlrun
