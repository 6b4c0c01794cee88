// dlrun train: the flags, console output and log file around lib/train's run_training (which owns
// the run directory, callbacks, checkpoints, early stopping, evaluation and the summary).
#include <spdlog/spdlog.h>

#include <chrono>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "app/rank_zero_farm.hpp"
#include "core/threads.hpp"
#include "dist/communicator.hpp"
#include "train/experiment.hpp"
#include "train/run_training.hpp"

namespace dlrun::app {

int run_train(const CommonOptions& common, const TrainOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (!options.resume.empty() && !options.weights.empty()) {
    throw ConfigError(
        "--resume and --weights exclude each other: --resume continues a run, --weights starts one");
  }
  // Under mpirun: data-parallel over the ranks; rank 0 alone writes and prints (docs/scaling.md).
  Communicator& ranks = world();
  Config config = load_config_with_flags(common);
  share_local_cores(config, ranks);
  apply_threads(config);
  if (ranks.is_root()) {  // before the data is loaded: a run that could not write fails now
    RunOptions output;
    output.out = common.out;
    output.resume = options.resume;
    check_run_output(config, output);
  }
  auto experiment = prepare_experiment(std::move(config));
  Experiment& e = *experiment;

  ConsoleCallback console(common.jsonl, common.quiet);
  RunOptions run;
  run.out = common.out;
  run.resume = options.resume;
  run.weights = options.weights;
  run.callbacks = {&console};
  run.communicator = &ranks;
  run.started = started;
  run.on_start = [&](const RunStart& start) {
    add_log_file(start.run_dir / "log.txt");
    for (const std::string& warning : start.warnings) spdlog::warn("{}", warning);
    if (!start.resumed_from.empty()) {
      spdlog::info("resuming {} from {} (epoch {}, step {})", start.run_dir.string(),
                   start.resumed_from.string(), start.resumed_epoch, start.resumed_step);
    }
    spdlog::info("run {}: {} training examples, {} validation, {} test; {} parameters; {} threads",
                 start.run_dir.string(), e.data.train.size(), e.data.validation.size(), e.data.test.size(),
                 start.parameter_count, thread_count());
    if (start.vocabulary_size > 0) {
      spdlog::info("text: vocabulary of {} characters; unigram baseline {:.3f} bits/char (training windows)",
                   start.vocabulary_size, start.unigram_bits);
    }
    install_stop_handlers();
  };
  run.stop_flag = &stop_flag();

  if (!ranks.is_root()) install_stop_handlers();  // rank 0's on_start installs its own
  const RunResult result = run_training(e, run);
  if (!ranks.is_root()) {  // rank 0 reports; the others exit as it does
    if (result.status == "interrupted") return 130;
    return result.status == "diverged" ? DivergedError(result.error).exit_code() : 0;
  }
  int exit_code = 0;
  if (result.status == "interrupted") {
    exit_code = 130;
    spdlog::warn("interrupted: checkpoint written to {}; continue with --resume {}",
                 result.last_checkpoint.string(), result.run_dir.string());
  } else if (result.status == "early_stopped") {
    spdlog::info("{}", result.early_stopping_reason);
  } else if (result.status == "diverged") {
    print_error(result.error);
    exit_code = DivergedError(result.error).exit_code();
  }
  if (!result.test.empty()) {
    std::string text;
    for (const auto& [key, value] : result.summary["test"].items()) text += " " + key + "=" + value.dump();
    spdlog::info("test:{}", text);
  }
  if (result.summary.contains("bits_per_char")) {
    std::string text;
    for (const auto& [key, value] : result.summary["bits_per_char"].items()) {
      if (key != "unigram_baseline") text += fmt::format(" {} {:.3f},", key, value.get<double>());
    }
    spdlog::info("bits/char:{} unigram baseline {:.3f}", text,
                 result.summary["bits_per_char"]["unigram_baseline"].get<double>());
  }
  spdlog::info("{} in {:.1f}s ({:.2f}s per epoch)", result.status, result.seconds, result.seconds_per_epoch);
  if (options.report) write_train_report(e, result.run_dir);
  print_json_line(result.summary);
  remove_log_file();
  return exit_code;
}

}  // namespace dlrun::app
