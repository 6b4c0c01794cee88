// dlrun eval and dlrun predict: they need checkpoints, which come with the training lifecycle work.
#include "app/commands.hpp"
#include "core/errors.hpp"

namespace dlrun::app {

int run_eval(const CommonOptions& /*common*/, const EvalOptions& /*options*/) {
  throw ConfigError("dlrun eval needs checkpoints, which this build does not write yet");
}

int run_predict(const CommonOptions& /*common*/, const PredictOptions& /*options*/) {
  throw ConfigError("dlrun predict needs checkpoints, which this build does not write yet");
}

}  // namespace dlrun::app
