// The optimizer table: one line per type. Each factory reads and validates its own options.
#include <string>
#include <utility>

#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/ftrl.hpp"
#include "optim/lbfgs.hpp"
#include "optim/nadam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

namespace dlrun {
namespace {

using OptimizerFactory = std::unique_ptr<Optimizer> (*)(Options&, std::vector<ParameterRef>);

const std::vector<std::pair<std::string, OptimizerFactory>>& optimizer_table() {
  static const std::vector<std::pair<std::string, OptimizerFactory>> table = {
      {"sgd", make_sgd},           {"adam", make_adam},       {"adamw", make_adamw},
      {"nadam", make_nadam},       {"rmsprop", make_rmsprop}, {"adagrad", make_adagrad},
      {"adadelta", make_adadelta}, {"ftrl", make_ftrl},       {"lbfgs", make_lbfgs},
  };
  return table;
}

}  // namespace

std::vector<std::string> optimizer_types() {
  std::vector<std::string> types;
  for (const auto& [name, factory] : optimizer_table()) types.push_back(name);
  return types;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& type, const Location& type_where,
                                          Options& options, std::vector<ParameterRef> parameters) {
  for (const auto& [name, factory] : optimizer_table()) {
    if (name == type) return factory(options, std::move(parameters));
  }
  const std::vector<std::string> types = optimizer_types();
  std::string list;
  for (const auto& name : types) list += (list.empty() ? "" : ", ") + name;
  throw ConfigError(type_where,
                    "unknown optimizer type '" + type + "'" + did_you_mean(type, types) + "; known: " + list);
}

}  // namespace dlrun
