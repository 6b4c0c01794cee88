// dlrun prune: magnitude pruning of a trained model and fine-tuning with the masks held fixed
// (lib/compress/prune_run); prints the per-layer sparsity and the figures before and after.
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "compress/prune_run.hpp"
#include "core/errors.hpp"
#include "core/options.hpp"

namespace dlrun::app {
namespace {

std::string metric_text(const MetricValues& values) {
  std::string text;
  for (const auto& [name, value] : values) text += " " + name + "=" + format_number(value);
  return text;
}

}  // namespace

int run_prune(const CommonOptions& common, const PruneOptions& options) {
  if (!(options.sparsity >= 0.0 && options.sparsity < 1.0)) {
    throw ConfigError("--sparsity must be in [0, 1), got " + format_number(options.sparsity));
  }
  if (options.finetune_epochs < 0) throw ConfigError("--finetune-epochs must be >= 0");
  Config config = load_config_with_flags(common);
  apply_threads(config);
  auto experiment = prepare_experiment(std::move(config));

  ConsoleCallback console(common.jsonl, common.quiet);
  PruneRunOptions prune;
  prune.checkpoint = options.checkpoint;
  prune.sparsity = options.sparsity;
  prune.scope = prune_scope_from_string(options.scope);
  prune.finetune_epochs = options.finetune_epochs;
  prune.run.out = common.out;
  prune.run.callbacks = {&console};
  prune.run.stop_flag = &stop_flag();
  prune.run.on_start = [&](const RunStart& start) {
    add_log_file(start.run_dir / "log.txt");
    spdlog::info("fine-tuning the pruned model for {} epochs in {}", options.finetune_epochs,
                 start.run_dir.string());
    install_stop_handlers();
  };
  const PruneRunResult result = prune_and_finetune(*experiment, prune);

  spdlog::info("{:<24} {:>10} {:>10} {:>9}", "weight", "size", "pruned", "sparsity");
  for (const WeightSparsity& s : result.sparsity) {
    spdlog::info("{:<24} {:>10} {:>10} {:>8.2f}%", s.name, s.size, s.pruned, 100.0 * s.sparsity());
  }
  spdlog::info("{} before:{} ({:.0f} examples/s)", result.split.name, metric_text(result.before.metrics),
               result.before.examples_per_second);
  spdlog::info("{} pruned:{}", result.split.name, metric_text(result.pruned.metrics));
  int exit_code = 0;
  if (result.finetune.status == "interrupted") {
    exit_code = 130;
    spdlog::warn("interrupted: no pruned model written; the fine-tuning run is in {}",
                 result.finetune.run_dir.string());
  } else if (result.finetune.status == "diverged") {
    print_error(result.finetune.error);
    exit_code = DivergedError(result.finetune.error).exit_code();
  } else {
    spdlog::info("{} after {} fine-tuning epochs:{} ({:.0f} examples/s)", result.split.name,
                 result.finetune.epochs, metric_text(result.after.metrics), result.after.examples_per_second);
    spdlog::info("pruned model: {}", result.pruned_checkpoint.string());
  }
  print_json_line(result.summary);
  remove_log_file();
  return exit_code;
}

}  // namespace dlrun::app
