// The report's Vega-Lite specs, one function per kind of chart. Data goes inline as rows of JSON
// objects ({"epoch": 1, "split": "train", "value": 0.5}); the specs carry no styling beyond sizes,
// so vega-lite's defaults decide how they look.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dlrun::report {

// Lines of `value` over `epoch`, one per `split` (train, validation), with points; `best_epoch`
// > 0 draws a dashed rule there. `log_y` for a learning rate that spans decades.
nlohmann::json epoch_lines(const std::string& title, const std::string& y_title, nlohmann::json rows,
                           long long best_epoch, bool log_y = false);
// One line of `value` over `epoch` (the learning rate), log scale when `log_y`.
nlohmann::json epoch_line(const std::string& title, const std::string& y_title, nlohmann::json rows,
                          bool log_y);

// A heat map of counts: rows {"true": ..., "predicted": ..., "count": n}, classes in `classes` order.
nlohmann::json confusion_heatmap(const std::string& title, const std::vector<std::string>& classes,
                                 nlohmann::json rows);

// Grouped bars: rows {"class": ..., "score": "precision", "value": v}.
nlohmann::json per_class_bars(const std::string& title, const std::vector<std::string>& classes,
                              nlohmann::json rows);

// One bar per fold for a metric, with a rule at the mean: rows {"fold": "1", "value": v}.
nlohmann::json fold_bars(const std::string& title, const std::string& metric, nlohmann::json rows);

// A search's metric against one hyperparameter: rows {"param": x, "metric": y, "trial": n}.
// `numeric` x on a linear or `log_x` scale; otherwise x is nominal (choices) in `order`.
nlohmann::json param_scatter(const std::string& param, const std::string& metric, nlohmann::json rows,
                             bool numeric, bool log_x, const std::vector<std::string>& order = {});

// The metric of each trial in order, with the best so far as a line: rows {"trial", "metric", "best"}.
nlohmann::json trial_history(const std::string& metric, nlohmann::json rows);

}  // namespace dlrun::report
