// The subcommands. Each loads the config, calls lib/, prints; none holds training logic.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dlrun {
struct Experiment;
}

namespace dlrun::app {

// Flags shared by every command that reads a config (DESIGN.md §2).
struct CommonOptions {
  std::filesystem::path config;
  std::vector<std::string> sets;  // --set PATH=VALUE, in order
  std::optional<int> threads;     // --threads N (overrides `threads:`)
  bool quiet = false;
  bool jsonl = false;
  std::filesystem::path out;  // --out DIR
};

struct TrainOptions {
  std::string resume;   // --resume RUN_DIR|CHECKPOINT
  std::string weights;  // --weights CHECKPOINT
  bool report = false;  // --report: report.html in the run directory at the end
};

struct CvCommandOptions {
  std::optional<int> folds;  // --folds K (overrides cv.folds)
  int jobs = 1;              // --jobs N: folds at once
};

struct EvalOptions {
  std::filesystem::path checkpoint;
  std::string split = "test";
};

struct PredictOptions {
  std::filesystem::path checkpoint;
  std::filesystem::path input;
  std::string format;  // idx | csv | npy; empty: from the extension
  std::filesystem::path output;
  bool raw = false;
};

struct SearchCommandOptions {
  std::string strategy;  // --strategy (overrides search.strategy)
  std::optional<long long> trials;
  int jobs = 1;
  std::filesystem::path resume;
  bool refit = false;
  int outer_folds = 0;
  std::filesystem::path journal;  // --journal DIR: a search shared by workers
  bool worker = false;            // --worker: take and train trials of --journal DIR
  double lease = 60.0;            // --lease SECONDS: a worker's claim lapses without heartbeats
};

struct ReportOptions {
  std::filesystem::path directory;  // a run, cv or search directory
  bool no_eval = false;             // --no-eval: no checkpoint evaluation (no data loaded)
  std::optional<int> threads;
};

struct GenerateOptions {
  std::filesystem::path checkpoint;
  std::string prompt;
  long long length = 200;
  double temperature = 1.0;
  long long top_k = 0;                     // 0: sample among all characters
  std::optional<unsigned long long> seed;  // default: the config's seed
};

struct PruneOptions {
  std::filesystem::path checkpoint;
  double sparsity = 0.5;
  std::string scope = "global";  // global | layer
  int finetune_epochs = 2;
};

struct QuantizeOptions {
  std::filesystem::path checkpoint;
  int calibration_batches = 32;
  std::filesystem::path out;  // default: next to the checkpoint, <name>.int8.safetensors
};

int run_train(const CommonOptions& common, const TrainOptions& options);
int run_cv(const CommonOptions& common, const CvCommandOptions& options);
int run_search(const CommonOptions& common, const SearchCommandOptions& options);
int run_summary(const CommonOptions& common, bool json = false);
int run_check(const CommonOptions& common);
int run_eval(const CommonOptions& common, const EvalOptions& options);
int run_predict(const CommonOptions& common, const PredictOptions& options);
int run_report(const ReportOptions& options);
// report.html for a run that `experiment` just trained (dlrun train --report).
void write_train_report(Experiment& experiment, const std::filesystem::path& run_dir);
int run_generate(const CommonOptions& common, const GenerateOptions& options);
int run_prune(const CommonOptions& common, const PruneOptions& options);
int run_quantize(const CommonOptions& common, const QuantizeOptions& options);

}  // namespace dlrun::app
