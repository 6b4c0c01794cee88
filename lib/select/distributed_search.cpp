#include "select/distributed_search.hpp"

#include <memory>
#include <string>

#include "dist/task_farm.hpp"
#include "select/cross_validation.hpp"
#include "select/search_space.hpp"

namespace dlrun {

nlohmann::json evaluator_settings_json(const EvaluatorSettings& settings) {
  return {{"metric", settings.metric},
          {"cv", settings.cv},
          {"keep_state", settings.keep_state},
          {"cv_rows", settings.cv_rows ? nlohmann::json(*settings.cv_rows) : nlohmann::json(nullptr)}};
}

EvaluatorSettings evaluator_settings_from_json(const nlohmann::json& json) {
  EvaluatorSettings settings;
  settings.metric = json.at("metric").get<std::string>();
  settings.cv = json.at("cv").get<bool>();
  settings.keep_state = json.at("keep_state").get<bool>();
  if (!json.at("cv_rows").is_null()) settings.cv_rows = json.at("cv_rows").get<std::vector<Index>>();
  return settings;
}

void serve_search_trials(const Config& config, Communicator& communicator,
                         const std::atomic<bool>* stop_flag) {
  const SearchSpace space = parse_search_space(config.search.space);
  // One evaluator per settings: nested cv changes them (the outer fold's rows) between searches.
  std::string current;
  std::unique_ptr<TrainingEvaluator> evaluator;
  serve_tasks(communicator, [&](const nlohmann::json& task) {
    const nlohmann::json& context = task.at("context");
    if (!evaluator || context.dump() != current) {
      EvaluatorSettings settings = evaluator_settings_from_json(context);
      settings.stop_flag = stop_flag;
      evaluator.reset();  // its data goes before the next one's is read
      evaluator = std::make_unique<TrainingEvaluator>(space, config, settings);
      current = context.dump();
    }
    const TrialOutcome outcome = evaluator->evaluate(
        task.at("trial").get<Index>(), task.at("point").get<Point>(), task.at("budget").get<Index>());
    return outcome_json(outcome);
  });
}

void serve_cv_folds(const Config& config, Communicator& communicator, const std::atomic<bool>* stop_flag) {
  const CvData data = load_cv_data(config);
  const std::vector<Fold> folds = make_folds(*data.dataset, data.rows, config.cv, config.seed);
  serve_tasks(communicator, [&](const nlohmann::json& task) {
    const Fold& fold = folds.at(task.at("fold").get<std::size_t>());
    return fold_result_json(run_fold(config, data, fold, stop_flag));
  });
}

}  // namespace dlrun
