// `mpirun -np N dlrun search` and `dlrun cv`: rank 0 runs the search (or cv) as one process would,
// with its trials (folds) handed to ranks 1 .. N-1 through a TaskFarm (dist/task_farm.hpp); the
// other ranks serve them here. Every rank reads the same config from the same command line, so a
// task names only a trial's number, budget and point (or a fold's index) and the evaluator's
// settings; its answer is the outcome, which is the same on any rank, so the results are those of
// a single process. Rank 0 alone writes the directory.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "dist/communicator.hpp"
#include "select/training_evaluator.hpp"

namespace dlrun {

// EvaluatorSettings as a task carries them (metric, cv, cv_rows) and back; stop_flag stays local.
nlohmann::json evaluator_settings_json(const EvaluatorSettings& settings);
EvaluatorSettings evaluator_settings_from_json(const nlohmann::json& json);

// Ranks 1 .. N-1 of a distributed search: trains the trials rank 0 hands out until it says stop.
void serve_search_trials(const Config& config, Communicator& communicator,
                         const std::atomic<bool>* stop_flag);

// Ranks 1 .. N-1 of a distributed cv: trains the folds rank 0 hands out until it says stop.
void serve_cv_folds(const Config& config, Communicator& communicator, const std::atomic<bool>* stop_flag);

}  // namespace dlrun
