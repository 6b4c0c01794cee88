// What a search leaves in its directory besides the journal: trials.csv (one row per trial) and
// the pick of the best trial that best.yaml and the summary report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "select/search_runner.hpp"

namespace dlrun {

// trials.csv: trial, one column per dimension (named by its path), the metric (named by
// `metric_name`), epochs, seconds, status, error; rows in trial order, trials never started left out.
// Fields holding a comma, a quote or a line break are quoted (RFC 4180).
std::string trials_csv(const SearchSpace& space, const std::string& metric_name,
                       const std::vector<TrialRecord>& trials);

// The index in `trials` of the best completed trial (the earliest among equals), or nullopt when
// no trial completed. Trials the scheduler stopped early never count: they were measured on fewer
// epochs than the others.
std::optional<std::size_t> best_trial(const std::vector<TrialRecord>& trials, bool maximize);

}  // namespace dlrun
