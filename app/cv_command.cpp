// dlrun cv: the flags, the cv directory (config.yaml, folds.csv, fold_rows.csv, summary.json,
// log.txt), the per-fold table on stderr and the summary JSON on stdout around lib/select's
// cross_validate.
#include <spdlog/spdlog.h>

#include <cmath>
#include <mutex>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "app/rank_zero_farm.hpp"
#include "config/emit.hpp"
#include "core/threads.hpp"
#include "io/files.hpp"
#include "select/cross_validation.hpp"
#include "select/distributed_search.hpp"

namespace dlrun::app {
namespace {

namespace fs = std::filesystem;

std::string number(double value) {
  return std::isfinite(value) ? fmt::format("{:.9g}", value) : std::string("nan");
}

// The held-out metric names, in report order (loss first).
std::vector<std::string> metric_names(const CvResult& result) {
  std::vector<std::string> names;
  if (!result.folds.empty()) {
    for (const auto& [name, value] : result.folds.front().run.test) names.push_back(name);
  }
  return names;
}

bool evaluated(const FoldResult& fold) {
  return !fold.run.test.empty();
}

// folds.csv: repeat, fold (1-based), held-out rows, epochs, each held-out metric, seconds.
std::string folds_csv(const CvResult& result) {
  const auto names = metric_names(result);
  std::string text = "repeat,fold,rows,epochs";
  for (const auto& name : names) text += "," + name;
  text += ",seconds\n";
  for (const FoldResult& fold : result.folds) {
    if (!evaluated(fold)) continue;
    text += fmt::format("{},{},{},{}", fold.repeat + 1, fold.fold + 1, fold.held_out_rows, fold.run.epochs);
    for (const auto& name : names) text += "," + number(metric_value(fold.run.test, name));
    text += "," + number(fold.run.seconds) + "\n";
  }
  return text;
}

// fold_rows.csv: for each repeat, the fold (1-based) that held out each data row (0-based, in the
// training file's order), so other tools can evaluate on the very same folds.
std::string fold_rows_csv(const CvResult& result) {
  std::string text = "row,repeat,fold\n";
  for (std::size_t repeat = 0; repeat < result.fold_of_row.size(); ++repeat) {
    const auto& fold_of = result.fold_of_row[repeat];
    for (std::size_t i = 0; i < fold_of.size(); ++i)
      text += fmt::format("{},{},{}\n", result.rows[i], repeat + 1, fold_of[i] + 1);
  }
  return text;
}

nlohmann::json fold_json(const FoldResult& fold) {
  nlohmann::json object{{"repeat", fold.repeat + 1},         {"fold", fold.fold + 1},
                        {"rows", fold.held_out_rows},        {"epochs", fold.run.epochs},
                        {"best_epoch", fold.run.best_epoch}, {"status", fold.run.status},
                        {"seconds", fold.run.seconds}};
  for (const auto& [name, value] : fold.run.test)
    object[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  return object;
}

void log_table(const CvResult& result) {
  const auto names = metric_names(result);
  std::string header = fmt::format("{:>6} {:>4} {:>6} {:>6}", "repeat", "fold", "rows", "epochs");
  for (const auto& name : names) header += fmt::format(" {:>17}", name);
  spdlog::info("{} {:>8}", header, "seconds");
  for (const FoldResult& fold : result.folds) {
    if (!evaluated(fold)) continue;
    std::string line = fmt::format("{:>6} {:>4} {:>6} {:>6}", fold.repeat + 1, fold.fold + 1,
                                   fold.held_out_rows, fold.run.epochs);
    for (const auto& name : names) line += fmt::format(" {:>17.4f}", metric_value(fold.run.test, name));
    spdlog::info("{} {:>8.2f}", line, fold.run.seconds);
  }
  std::string line = fmt::format("{:>25}", "mean ± std");
  for (const auto& name : names)
    line += fmt::format(" {:>17}", fmt::format("{:.4f} ± {:.4f}", metric_value(result.mean, name),
                                               metric_value(result.stddev, name)));
  spdlog::info("{}", line);
}

}  // namespace

int run_cv(const CommonOptions& common, const CvCommandOptions& options) {
  if (options.folds && *options.folds < 2)
    throw ConfigError("--folds must be at least 2, got " + std::to_string(*options.folds));
  CommonOptions flags = common;
  if (options.folds) flags.sets.push_back("cv.folds=" + std::to_string(*options.folds));
  Config config = load_config_with_flags(flags);
  Communicator& world = dlrun::world();
  share_local_cores(config, world);
  apply_threads(config);
  // Under mpirun: rank 0 writes the cv directory and hands folds to the other ranks, which only train.
  if (world.distributed() && !world.is_root()) {
    install_stop_handlers();
    serve_cv_folds(config, world, &stop_flag());
    return 0;
  }
  RankZeroFarm farm(world);
  const std::optional<fs::path> out = common.out.empty() ? std::nullopt : std::optional(common.out);
  check_new_run_directory(config.output, out);  // before the data: an unwritable folder fails now
  // Everything is read and checked before the cv directory exists: the data, the folds, and one
  // fold's experiment (model, loss, optimizer against the data).
  const CvData data = load_cv_data(config);
  const auto folds = make_folds(*data.dataset, data.rows, config.cv, config.seed);
  prepare_experiment(config, fold_data(config, data, folds.front()));

  install_stop_handlers();  // before the directory exists: once it does, a signal stops cleanly
  const RunDirectory claimed =
      make_run_directory(config.output, config.name + "-cv", out);  // locked till the end
  const fs::path& cv_dir = claimed.path;
  fs::remove(cv_dir / kCheckpointsFolder);  // made for runs; a cv directory holds no checkpoints
  add_log_file(cv_dir / "log.txt");
  write_text_atomic(cv_dir / "config.yaml", to_yaml(config.tree));
  const int jobs =
      farm.get() ? std::min(world.size() - 1, static_cast<int>(folds.size()))
                 : static_cast<int>(std::clamp<Index>(options.jobs, 1, static_cast<Index>(folds.size())));
  spdlog::info("cv {}: {} rows, {} folds x {} repeats{}; {} at a time{}, {} threads each", cv_dir.string(),
               data.rows.size(), config.cv.folds, config.cv.repeats,
               config.cv.stratified ? ", stratified" : "", jobs,
               farm.get() ? " (MPI ranks 1-" + std::to_string(world.size() - 1) + ")" : "",
               farm.get() ? thread_count() : std::max(1, thread_count() / jobs));
  if (config.data.test) spdlog::info("the test set is not used: each fold is evaluated on its held-out rows");

  CvOptions cv_options;
  cv_options.jobs = jobs;
  cv_options.farm = farm.get();
  cv_options.stop_flag = &stop_flag();
  std::size_t finished = 0;
  cv_options.on_fold_end = [&](const FoldResult& fold) {
    ++finished;
    std::string metrics;
    for (const auto& [name, value] : fold.run.test) metrics += fmt::format(" {}={:.4f}", name, value);
    spdlog::info("fold {}/{} (repeat {}) {}: {} epochs, {} train + {} validation rows;{} ({:.1f}s)",
                 fold.fold + 1, config.cv.folds, fold.repeat + 1, fold.run.status, fold.run.epochs,
                 fold.train_rows, fold.validation_rows, metrics, fold.run.seconds);
    if (common.jsonl) print_json_line(fold_json(fold));
  };
  const CvResult result = cross_validate(config, data, cv_options);

  nlohmann::json summary{{"command", "cv"}, {"cv_dir", cv_dir.string()}, {"status", result.status}};
  nlohmann::json fold_list = nlohmann::json::array();
  for (const FoldResult& fold : result.folds) {
    if (evaluated(fold)) fold_list.push_back(fold_json(fold));
  }
  summary["folds"] = fold_list;
  summary["mean"] = metric_values_json(result.mean);
  summary["std"] = metric_values_json(result.stddev);
  summary["seconds"] = result.seconds;
  int exit_code = 0;
  for (const FoldResult& fold : result.folds) {
    if (fold.run.status == "diverged") {
      print_error(fmt::format("fold {} (repeat {}): {}", fold.fold + 1, fold.repeat + 1, fold.run.error));
      exit_code = 4;
    }
  }
  if (exit_code == 0 && result.status == "interrupted") {
    exit_code = 130;
    spdlog::warn("interrupted after {} of {} folds", finished, folds.size());
  }
  write_text_atomic(cv_dir / "folds.csv", folds_csv(result));
  write_text_atomic(cv_dir / "fold_rows.csv", fold_rows_csv(result));
  log_table(result);
  spdlog::info("{} in {:.1f}s", result.status, result.seconds);
  write_run_summary(cv_dir, summary.dump(2) + "\n");
  print_json_line(summary);
  remove_log_file();
  return exit_code;
}

}  // namespace dlrun::app
