// dlrun report: report.html for a run, cv or search directory (lib/report), and the same at the
// end of `dlrun train --report`.
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/console.hpp"
#include "core/threads.hpp"
#include "report/report.hpp"

namespace dlrun::app {

int run_report(const ReportOptions& options) {
  if (options.threads) set_thread_count(*options.threads);
  std::optional<report::CheckpointEvaluation> evaluation;
  if (!options.no_eval && report::directory_kind(options.directory) == report::DirectoryKind::run) {
    evaluation = report::evaluate_run_checkpoint(options.directory);
  }
  const auto path =
      report::write_report(options.directory, report::build_report(options.directory, evaluation));
  print_json_line({{"command", "report"}, {"report", path.string()}});
  return 0;
}

void write_train_report(Experiment& experiment, const std::filesystem::path& run_dir) {
  std::optional<report::CheckpointEvaluation> evaluation;
  if (const auto checkpoint = report::report_checkpoint(run_dir)) {
    evaluation = report::evaluate_checkpoint(experiment, *checkpoint);
  }
  const auto path = report::write_report(run_dir, report::build_report(run_dir, evaluation));
  spdlog::info("report: {}", path.string());
}

}  // namespace dlrun::app
