#include "compress/prune_run.hpp"

#include "config/emit.hpp"
#include "core/errors.hpp"
#include "io/checkpoint_files.hpp"
#include "io/files.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_categories.hpp"

namespace dlrun {
namespace {

nlohmann::json sparsity_json(const std::vector<WeightSparsity>& sparsity) {
  nlohmann::json list = nlohmann::json::array();
  for (const WeightSparsity& s : sparsity) {
    list.push_back({{"weight", s.name}, {"size", s.size}, {"pruned", s.pruned}, {"sparsity", s.sparsity()}});
  }
  return list;
}

}  // namespace

PruneRunResult prune_and_finetune(Experiment& e, PruneRunOptions options) {
  require(options.sparsity >= 0.0 && options.sparsity < 1.0, "prune_and_finetune: sparsity outside [0, 1)");
  require(options.finetune_epochs >= 0, "prune_and_finetune: negative epochs");
  const LoadedCheckpoint checkpoint = read_checkpoint(options.checkpoint);
  check_checkpoint_categories(checkpoint, e.data.train.dataset->categories);
  load_model_parameters(e.model, checkpoint);
  MaskSet masks(e.model);
  if (masks.entries().empty()) {
    throw ConfigError("the model has no dense or conv2d weights to prune");
  }
  // A pruned checkpoint pruned further keeps its zeros.
  if (MaskSet::present_in(checkpoint.contents)) masks.load(checkpoint.contents, checkpoint.path);

  PruneRunResult result;
  result.split = report_split(e.data);
  const DataView& view = *result.split.view;
  const LossBinding binding = bind_loss(e.model, *e.loss);
  const Index batch = evaluation_batch_size(e.config.train.batch_size);
  const auto evaluate_model = [&] {
    return evaluate(e.model, binding, view, e.data.transform, e.task, e.config.metrics, batch);
  };
  result.before = measure(evaluate_model, view.size(), options.checkpoint);
  masks.prune_by_magnitude(options.sparsity, options.scope);
  result.sparsity = masks.sparsity();
  result.pruned = measure(evaluate_model, view.size(), {});

  options.run.masks = &masks;
  options.run.epochs = options.finetune_epochs;
  options.run.evaluate_test = false;  // measured below, with the other figures
  options.run.weights.clear();
  options.run.resume.clear();
  result.finetune = run_training(e, options.run);

  nlohmann::json& summary = result.summary;
  summary = {{"command", "prune"},
             {"status", result.finetune.status},
             {"checkpoint", options.checkpoint.string()},
             {"sparsity", options.sparsity},
             {"scope", options.scope == PruneScope::global ? "global" : "layer"},
             {"finetune_epochs", result.finetune.epochs},
             {"split", result.split.name},
             {"examples", view.size()}};
  if (!result.finetune.run_dir.empty()) summary["run_dir"] = result.finetune.run_dir.string();
  summary["weights"] = sparsity_json(result.sparsity);
  summary["overall_sparsity"] = masks.overall_sparsity();
  summary["before"] = figures_json(result.before, options.checkpoint);
  summary["pruned"] = figures_json(result.pruned, {});
  if (result.finetune.status != "completed" && result.finetune.status != "early_stopped") {
    if (!result.finetune.error.empty()) summary["error"] = result.finetune.error;
    return result;
  }
  if (!result.finetune.run_dir.empty()) {
    result.pruned_checkpoint = result.finetune.run_dir / kPrunedCheckpointName;
    CheckpointState state;
    state.train = result.finetune.state;
    state.config_yaml = to_yaml(e.config.tree);
    save_checkpoint(result.pruned_checkpoint, e.model, nullptr, state, masks.checkpoint_tensors(),
                    masks.checkpoint_dtypes());
  }
  result.after = measure(evaluate_model, view.size(), result.pruned_checkpoint);
  summary["after"] = figures_json(result.after, result.pruned_checkpoint);
  summary["comparison"] = comparison_json(result.before, result.after);
  summary["finetune"] = result.finetune.summary;
  // The run directory's summary is the whole command's, written last: a directory without it
  // (or with the fine-tuning's status "failed") is not a finished pruning.
  if (!result.finetune.run_dir.empty()) write_run_summary(result.finetune.run_dir, summary.dump(2) + "\n");
  return result;
}

}  // namespace dlrun
