#include "report/checkpoint_evaluation.hpp"

#include "config/parse_config.hpp"
#include "io/files.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_categories.hpp"

namespace dlrun::report {

namespace fs = std::filesystem;

std::optional<fs::path> report_checkpoint(const fs::path& run_dir) {
  for (const char* name : {"best.safetensors", "last.safetensors"}) {
    const fs::path path = run_dir / kCheckpointsFolder / name;
    if (fs::is_regular_file(path)) return path;
  }
  return std::nullopt;
}

CheckpointEvaluation evaluate_checkpoint(Experiment& e, const fs::path& checkpoint) {
  const LoadedCheckpoint loaded = read_checkpoint(checkpoint);
  check_checkpoint_categories(loaded, e.data.train.dataset->categories);
  load_model_parameters(e.model, loaded);
  CheckpointEvaluation result;
  result.checkpoint = checkpoint;
  const DataView* view = &e.data.train;
  result.split = "train";
  if (!e.data.test.empty()) {
    view = &e.data.test;
    result.split = "test";
  } else if (!e.data.validation.empty()) {
    view = &e.data.validation;
    result.split = "validation";
  }
  result.examples = view->size();
  const LossBinding binding = bind_loss(e.model, *e.loss);
  result.evaluation = evaluate(e.model, binding, *view, e.data.transform, e.task, e.config.metrics,
                               evaluation_batch_size(e.config.train.batch_size));
  if (e.task.classes > 0) result.class_names = view->dataset->class_names;
  return result;
}

std::optional<CheckpointEvaluation> evaluate_run_checkpoint(const fs::path& run_dir) {
  const auto checkpoint = report_checkpoint(run_dir);
  if (!checkpoint) return std::nullopt;
  auto experiment = prepare_experiment(load_config(run_dir / "config.yaml", {}));
  return evaluate_checkpoint(*experiment, *checkpoint);
}

}  // namespace dlrun::report
