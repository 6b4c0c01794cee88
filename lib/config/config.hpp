// The typed, validated config (DESIGN.md §3). lib/config fills it from YAML; everything else reads
// it. Layer, optimizer, schedule and loss options stay as Nodes here: their registries read and
// validate them (through Options), so that adding a layer never touches lib/config.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/tensor.hpp"

namespace dlrun {

// One data file set: `{format: idx, images, labels}`, `{format: csv, path, label, features, header,
// delimiter}`, `{format: npy, inputs, labels}`, `{format: text, path, sequence_length}` or
// `{format: timeseries, path, target, window, horizon, features, header, delimiter}` (a CSV of
// time-ordered rows cut into windows of `window` rows, the target `horizon` rows after each).
struct DataSource {
  std::string format;                 // idx | csv | npy | text | timeseries | image_folder
  std::filesystem::path images;       // idx
  std::filesystem::path labels;       // idx, npy
  std::filesystem::path path;         // csv, text, timeseries
  std::filesystem::path inputs;       // npy
  std::string label_column;           // csv: the label column's name (empty: the last column)
  std::vector<std::string> features;  // csv: feature columns (empty: all but the label);
                                      // timeseries: input columns (empty: all)
  bool header = true;                 // csv, timeseries
  char delimiter = ',';               // csv, timeseries
  Index sequence_length = 0;          // text
  std::string target_column;          // timeseries: the column to forecast
  Index window = 0;                   // timeseries: rows per example
  Index horizon = 1;                  // timeseries: the target is this many rows after the window
  std::vector<Index> image_size;      // image_folder: [H, W]
  Index image_channels = 3;           // image_folder: 1 (grey) or 3 (RGB)
  Location where;                     // of the mapping, for messages
  std::vector<std::filesystem::path> files() const;  // every file it reads
};

struct ValidationSpec {
  enum class Kind { none, split, source };
  Kind kind = Kind::none;
  double fraction = 0.0;  // split: the fraction of train held out (stratified when labels are classes)
  DataSource source;      // source
};

// data.categorical: CSV feature columns one-hot encoded, with the categories learnt from the
// training rows (data/categorical.hpp).
struct CategoricalSpec {
  struct Column {
    std::string name;  // a column name, or
    Index index = -1;  // >= 0: a 0-based column number (an unquoted integer in the YAML)
  };
  std::vector<Column> columns;
  bool detect = false;          // `categorical: auto`: every feature column with a non-numeric cell
  bool ignore_unknown = false;  // handle_unknown: ignore (all zeros) rather than error
  Location where;               // of the `categorical` key, for messages
  bool empty() const { return columns.empty() && !detect; }
};

struct DataConfig {
  DataSource train;
  std::optional<DataSource> test;
  ValidationSpec validation;
  double scale = 1.0;              // raw values are divided by this
  std::string normalize = "none";  // none | standard | minmax (fitted on training rows only)
  bool as_sequence = false;        // an image of H rows becomes H steps of W features
  std::string target = "labels";   // labels | inputs
  CategoricalSpec categorical;     // csv only
};

struct LayerConfig {
  std::string type;
  Location type_where;
  std::string name;  // defaulted to <type>_<n> when not given
  Node options;      // the layer's mapping, less `type` and `name`
  Location where;
};

// A typed choice with free-form options: `optimizer: {type: adam, lr: 0.001}`, `loss: huber` or
// `loss: {type: huber, delta: 1.0}`.
struct TypedOptions {
  std::string type;
  Location type_where;
  Node options;  // the mapping less `type` (a null Node when the config gave only the name)
  Location where;
};

struct EarlyStoppingConfig {
  std::string monitor = "val_loss";
  Index patience = 3;
  double min_delta = 0.0;
  std::string mode = "auto";  // auto | min | max
  bool restore_best = true;
  Index start_from_epoch = 0;
};

struct CheckpointConfig {
  Index every = 1;        // epochs between numbered checkpoints; 0 = none
  Index every_steps = 0;  // steps between checkpoints inside an epoch; 0 = none
  Index keep = 3;         // numbered checkpoints kept
  bool save_best = true;
  std::string monitor = "val_loss";
  std::string mode = "auto";
};

struct TrainConfig {
  Index epochs = 10;
  Index batch_size = 32;
  bool shuffle = true;
  double clip_grad_norm = 0.0;   // 0 = off
  double clip_grad_value = 0.0;  // 0 = off
  std::optional<EarlyStoppingConfig> early_stopping;
  CheckpointConfig checkpoint;
};

struct CvConfig {
  Index folds = 5;
  bool stratified = true;
  Index repeats = 1;
  bool shuffle = true;
};

// `search.scheduler`: successive halving or Hyperband (docs/search.md). Budgets are epochs.
struct SchedulerConfig {
  std::string type = "none";  // none | successive_halving | hyperband
  Index min_epochs = 1;       // the first rung's budget
  Index max_epochs = 0;       // the last rung's budget; 0: train.epochs
  Index eta = 3;              // keep the best 1/eta of each rung
};

// `search.bayes`: the Bayesian optimiser's settings (docs/search.md).
struct BayesConfig {
  std::string model = "gp";   // gp (Gaussian process, expected improvement) | tpe
  Index startup_trials = 10;  // random trials before the model is used
  double gamma = 0.25;        // tpe: the fraction of observed trials counted as good
  Index candidates = 24;      // tpe: points drawn from l(x) per proposal
  Index batch = 1;            // trials proposed together, from the same finished trials
};

struct SearchConfig {
  std::string strategy = "random";  // grid | random | bayes
  Index trials = 20;
  std::string metric = "val_accuracy";
  std::string mode = "auto";         // auto (from the metric's name) | min | max
  std::string evaluate = "holdout";  // holdout | cv
  Node space;                        // path -> {choice|uniform|loguniform|int|int_log: ...}
  SchedulerConfig scheduler;
  BayesConfig bayes;
};

// `prune:`: gradual magnitude pruning while training, with the cubic schedule of Zhu & Gupta
// (2017): sparsity(t) = final + (initial - final) * (1 - (t - start) / (end - start))^3 for t in
// [start_epoch, end_epoch] (t in epochs, counted in steps), applied every `frequency` epochs or steps.
struct PruneConfig {
  double initial_sparsity = 0.0;
  double final_sparsity = 0.5;
  double start_epoch = 0.0;
  double end_epoch = 1.0;
  Index frequency = 1;
  std::string frequency_unit = "epochs";  // epochs | steps
  std::string scope = "global";           // global | layer
};

struct Config {
  std::filesystem::path file;  // the config file (relative paths resolve against its folder)
  std::string name;
  std::uint64_t seed = 42;
  int threads = 0;  // 0 = all cores
  DataConfig data;
  std::vector<LayerConfig> layers;
  TypedOptions loss;
  std::vector<std::string> metrics;  // accuracy, top_k_accuracy, precision, recall, f1, mae, rmse, r2
  TypedOptions optimizer;
  std::optional<TypedOptions> schedule;
  TrainConfig train;
  std::filesystem::path output = "runs";
  CvConfig cv;
  SearchConfig search;
  std::optional<PruneConfig> prune;
  Node tree;  // the resolved tree (overrides applied), for config.yaml
};

}  // namespace dlrun
