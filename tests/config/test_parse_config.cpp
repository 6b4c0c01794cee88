#include <doctest/doctest.h>

#include "config/config_test_util.hpp"
#include "config/emit.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

const std::string kData = "data:\n  train: {format: csv, path: iris.csv}\n";
const std::string kModel = "model:\n  layers:\n    - {type: dense, units: 3}\n";

Config parse(const std::string& text, const std::filesystem::path& file = "/configs/exp.yaml") {
  return config_from_tree(parse_yaml(text, file.string()), file);
}

std::string parse_error(const std::string& text) {
  return config_error([&] { parse(text); });
}

// The error for a minimal valid config plus `extra` (appended at line 6).
std::string error_with(const std::string& extra) {
  return parse_error(kData + kModel + extra);
}

}  // namespace

TEST_CASE("parse config: defaults for everything left out") {
  const Config config = parse(kData + kModel);
  CHECK(config.file == "/configs/exp.yaml");
  CHECK(config.name == "exp");
  CHECK(config.seed == 42);
  CHECK(config.threads == 0);
  CHECK(config.output == "runs");
  CHECK(config.data.train.format == "csv");
  CHECK(config.data.train.path == "/configs/iris.csv");
  CHECK(config.data.train.header);
  CHECK(config.data.train.delimiter == ',');
  CHECK_FALSE(config.data.test.has_value());
  CHECK(config.data.validation.kind == ValidationSpec::Kind::none);
  CHECK(config.data.scale == 1.0);
  CHECK(config.data.normalize == "none");
  CHECK(config.data.target == "labels");
  CHECK(config.loss.type == "cross_entropy");
  CHECK(config.loss.options.is_null());
  CHECK(config.metrics == std::vector<std::string>{"accuracy"});
  CHECK(config.optimizer.type == "adam");
  CHECK(config.optimizer.options.find("lr")->as_double("lr") == 0.001);
  CHECK_FALSE(config.schedule.has_value());
  CHECK(config.train.epochs == 10);
  CHECK(config.train.batch_size == 32);
  CHECK(config.train.shuffle);
  CHECK_FALSE(config.train.early_stopping.has_value());
  CHECK(config.train.checkpoint.keep == 3);
  CHECK(config.cv.folds == 5);
  CHECK(config.search.strategy == "random");
  CHECK(config.search.space.is_null());

  // The resolved tree gains name and seed (first), so that config.yaml reproduces the run.
  REQUIRE(config.tree.entries().size() == 4);
  CHECK(config.tree.entries()[0].key == "name");
  CHECK(config.tree.entries()[0].value.text() == "exp");
  CHECK(config.tree.entries()[1].key == "seed");
  CHECK(config.tree.entries()[1].value.as_int("seed") == 42);
  CHECK(parse(kData + kModel, "").name == "run");
}

TEST_CASE("parse config: regression losses default to mae and rmse; loss and optimizer forms") {
  Config config = parse(kData + kModel +
                        "loss: {type: huber, delta: 2.0}\noptimizer: {type: sgd, lr: 0.1, momentum: 0.9}\n"
                        "schedule: {type: cosine, warmup_epochs: 1}\n");
  CHECK(config.loss.type == "huber");
  CHECK(config.loss.type_where.to_string() == "/configs/exp.yaml:6:14");
  CHECK(config.loss.options.entries().size() == 1);
  CHECK(config.loss.options.find("delta")->text() == "2.0");
  CHECK(config.metrics == std::vector<std::string>{"mae", "rmse"});
  CHECK(config.optimizer.type == "sgd");
  CHECK(config.optimizer.options.entries().size() == 2);
  CHECK(config.optimizer.options.find("type") == nullptr);
  REQUIRE(config.schedule.has_value());
  CHECK(config.schedule->type == "cosine");

  config = parse(kData + kModel + "loss: mse\nmetrics: [r2, f1]\n");
  CHECK(config.loss.type == "mse");
  CHECK(config.loss.type_where.line == 6);
  CHECK(config.metrics == std::vector<std::string>{"r2", "f1"});
}

TEST_CASE("parse config: unknown keys are errors at the key, with a did-you-mean") {
  CHECK(parse_error(kData + "modle:\n  layers: []\n") ==
        "/configs/exp.yaml:3:1: unknown key 'modle' (did you mean 'model'?)");
  CHECK(error_with("train:\n  epoch: 5\n") ==
        "/configs/exp.yaml:7:3: train: unknown option 'epoch' (did you mean 'epochs'?)");
  CHECK(parse_error("data:\n  train: {format: idx, image: a, labels: b}\n" + kModel) ==
        "/configs/exp.yaml:2:24: data.train: unknown option 'image' (did you mean 'images'?)");
  CHECK(error_with("cv: {fold: 3}\n").find("cv: unknown option 'fold' (did you mean 'folds'?)") !=
        std::string::npos);
  CHECK(error_with("train: {early_stopping: {patiense: 1}}\n").find("(did you mean 'patience'?)") !=
        std::string::npos);
  CHECK(
      parse_error(kData + "model: {layers: [{type: dense}], layer: 1}\n").find("(did you mean 'layers'?)") !=
      std::string::npos);
}

TEST_CASE("parse config: wrong types name the key and where it is") {
  CHECK(error_with("train:\n  epochs: ten\n") ==
        "/configs/exp.yaml:7:11: train: epochs: expected an integer, got 'ten'");
  CHECK(error_with("train: {shuffle: maybe}\n").find("train: shuffle: expected true or false") !=
        std::string::npos);
  CHECK(error_with("seed: 1.5\n").find("config: seed: expected an integer") != std::string::npos);
  CHECK(error_with("loss: [mse]\n") ==
        "/configs/exp.yaml:6:7: loss: expected a name or a mapping with a type, got a list");
  CHECK(error_with("optimizer: {lr: 0.1}\n").find("optimizer: type: is required") != std::string::npos);
  CHECK(error_with("metrics: {a: 1}\n").find("metrics: expected a list of metric names") !=
        std::string::npos);
  CHECK(error_with("search: {space: [1]}\n").find("search: space: expected a mapping") != std::string::npos);
  CHECK(parse_error(kData + "model:\n  layers: {type: dense}\n")
            .find("model: layers: expected a non-empty list") != std::string::npos);
  CHECK(parse_error(kData + "model:\n  layers: []\n").find("model: layers: expected a non-empty list") !=
        std::string::npos);
  CHECK(parse_error(kData + "model:\n  layers:\n    - dense\n") ==
        "/configs/exp.yaml:5:7: model.layers.0: expected a layer such as {type: dense, units: 10}, got "
        "'dense'");
  CHECK(parse_error(kData + "model:\n  layers:\n    - {units: 3}\n")
            .find("model.layers.0: type: is required") != std::string::npos);
  CHECK(parse_error("data:\n  train: data.csv\n" + kModel).find("data.train: expected a data source") !=
        std::string::npos);
  CHECK(parse_error(kModel).find("config: data: is required") != std::string::npos);
  CHECK(parse_error(kData).find("config: model: is required") != std::string::npos);
  CHECK(parse_error("data: {test: {format: csv, path: t.csv}}\n" + kModel).find("data: train: is required") !=
        std::string::npos);
}

TEST_CASE("parse config: values out of range name the key") {
  const std::pair<std::string, std::string> cases[] = {
      {"train: {epochs: 0}\n", "train: epochs: must be >= 1, got 0"},
      {"train: {batch_size: 0}\n", "train: batch_size: must be >= 1, got 0"},
      {"seed: -1\n", "config: seed: must be >= 0, got -1"},
      {"threads: -2\n", "config: threads: must be in [0, 65536], got -2"},
      {"train: {clip_grad_norm: -1}\n", "train: clip_grad_norm: must be >= 0, got -1"},
      {"train: {early_stopping: {patience: -1}}\n", "train.early_stopping: patience: must be >= 0, got -1"},
      {"train: {checkpoint: {every: -1}}\n", "train.checkpoint: every: must be >= 0, got -1"},
      {"train: {checkpoint: {keep: 0}}\n", "train.checkpoint: keep: must be >= 1, got 0"},
      {"cv: {folds: 1}\n", "cv: folds: must be >= 2, got 1"},
      {"cv: {repeats: 0}\n", "cv: repeats: must be >= 1, got 0"},
      {"search: {trials: 0}\n", "search: trials: must be >= 1, got 0"},
      {"name: a/b\n", "config: name: must be a usable folder name (no '/', not empty), got 'a/b'"},
  };
  for (const auto& [extra, message] : cases) {
    CAPTURE(extra);
    const std::string error = error_with(extra);
    CHECK(error.find("/configs/exp.yaml:6:") == 0);
    CHECK(error.find(message) != std::string::npos);
  }
  const std::string data = "data:\n  train: {format: csv, path: a.csv}\n";
  CHECK(parse_error(data + "  validation: {split: 1.0}\n" + kModel) ==
        "/configs/exp.yaml:3:23: data.validation: split: must be a fraction in (0, 1), got 1");
  CHECK(parse_error(data + "  validation: {split: 0}\n" + kModel).find("must be a fraction in (0, 1)") !=
        std::string::npos);
  CHECK(parse_error(data + "  scale: 0\n" + kModel).find("data: scale: must be > 0, got 0") !=
        std::string::npos);
  CHECK(parse_error("data:\n  train: {format: text, path: c.txt, sequence_length: 0}\n" + kModel)
            .find("data.train: sequence_length: must be >= 1, got 0") != std::string::npos);
}

TEST_CASE("parse config: enumerations suggest the closest allowed value") {
  CHECK(parse_error("data:\n  train: {format: csv, path: a.csv}\n  normalize: standrad\n" + kModel) ==
        "/configs/exp.yaml:3:14: data: normalize: unknown value 'standrad' (did you mean 'standard'?); "
        "allowed: none, standard, minmax");
  CHECK(parse_error("data:\n  train: {format: csvv, path: a.csv}\n" + kModel).find("(did you mean 'csv'?)") !=
        std::string::npos);
  CHECK(parse_error("data:\n  train: {format: csv, path: a.csv}\n  target: input\n" + kModel)
            .find("(did you mean 'inputs'?)") != std::string::npos);
  CHECK(error_with("metrics: [acuracy]\n")
            .find("/configs/exp.yaml:6:11: metrics: unknown metric 'acuracy' (did you "
                  "mean 'accuracy'?)") == 0);
  CHECK(error_with("metrics: [f1, f1]\n").find("'f1' is listed twice") != std::string::npos);
  CHECK(error_with("train: {early_stopping: {mode: mix}}\n").find("(did you mean 'min'?)") !=
        std::string::npos);
  CHECK(error_with("search: {strategy: bayse}\n").find("(did you mean 'bayes'?)") != std::string::npos);
  CHECK(error_with("search: {evaluate: cvv}\n").find("(did you mean 'cv'?)") != std::string::npos);
  CHECK(error_with("search: {mode: maxx}\n").find("(did you mean 'max'?)") != std::string::npos);
}

TEST_CASE("parse config: data sources, validation and paths relative to the config's folder") {
  const Config config = parse(
      "data:\n"
      "  train: {format: idx, images: ../data/train-images.gz, labels: /abs/train-labels.gz}\n"
      "  test: {format: npy, inputs: x.npy, labels: sub/y.npy}\n"
      "  validation: {format: csv, path: v.csv, label: species, features: [a, b], header: false, delimiter: "
      "\"\\t\"}\n"
      "  scale: 255\n"
      "  normalize: minmax\n"
      "  as_sequence: true\n" +
          kModel,
      "/work/configs/mnist.yaml");
  CHECK(config.data.train.images == "/work/data/train-images.gz");
  CHECK(config.data.train.labels == "/abs/train-labels.gz");
  REQUIRE(config.data.test.has_value());
  CHECK(config.data.test->inputs == "/work/configs/x.npy");
  CHECK(config.data.test->labels == "/work/configs/sub/y.npy");
  CHECK(config.data.test->files() ==
        std::vector<std::filesystem::path>{"/work/configs/sub/y.npy", "/work/configs/x.npy"});
  REQUIRE(config.data.validation.kind == ValidationSpec::Kind::source);
  const DataSource& validation = config.data.validation.source;
  CHECK(validation.path == "/work/configs/v.csv");
  CHECK(validation.label_column == "species");
  CHECK(validation.features == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(validation.header);
  CHECK(validation.delimiter == '\t');
  CHECK(config.data.scale == 255.0);
  CHECK(config.data.normalize == "minmax");
  CHECK(config.data.as_sequence);
  // The resolved tree holds the absolute paths.
  CHECK(config.tree.find("data")->find("train")->find("images")->text() == "/work/data/train-images.gz");

  // A relative config path resolves against the working directory too.
  const Config relative = parse(kData + kModel, "configs/x.yaml");
  CHECK(relative.data.train.path ==
        (std::filesystem::current_path() / "configs/iris.csv").lexically_normal());

  const Config split =
      parse("data:\n  train: {format: text, path: c.txt, sequence_length: 64}\n  validation: {split: 0.2}\n" +
            kModel);
  CHECK(split.data.validation.kind == ValidationSpec::Kind::split);
  CHECK(split.data.validation.fraction == 0.2);
  CHECK(split.data.train.sequence_length == 64);

  // Autoencoders need no labels; classifiers do.
  CHECK_NOTHROW(parse("data:\n  train: {format: idx, images: i.gz}\n  target: inputs\n" + kModel));
  CHECK(parse_error("data:\n  train: {format: idx, images: i.gz}\n" + kModel)
            .find("data.train: labels: is required") != std::string::npos);
  CHECK(parse_error("data:\n  train: {format: csv, path: a.csv, delimiter: ab}\n" + kModel)
            .find("data.train: delimiter: must be one character") != std::string::npos);
}

TEST_CASE("parse config: layers get default names, options without type and name, unique names") {
  const Config config = parse(kData +
                              "model:\n"
                              "  layers:\n"
                              "    - {type: conv2d, filters: 8, kernel: 3}\n"
                              "    - {type: conv2d, name: conv_b, filters: 8}\n"
                              "    - {type: flatten}\n"
                              "    - {type: dense, units: 10, activation: softmax}\n");
  REQUIRE(config.layers.size() == 4);
  CHECK(config.layers[0].name == "conv2d_1");
  CHECK(config.layers[1].name == "conv_b");
  CHECK(config.layers[2].name == "flatten_1");
  CHECK(config.layers[3].name == "dense_1");
  CHECK(config.layers[0].type == "conv2d");
  CHECK(config.layers[0].type_where.to_string() == "/configs/exp.yaml:5:14");
  CHECK(config.layers[0].where.to_string() == "/configs/exp.yaml:5:7");
  CHECK(config.layers[1].options.entries().size() == 1);
  CHECK(config.layers[1].options.find("name") == nullptr);
  CHECK(config.layers[0].options.find("kernel")->where().to_string() == "/configs/exp.yaml:5:42");
  CHECK(config.layers[2].options.is_map());
  CHECK(config.layers[2].options.entries().empty());

  CHECK(parse_error(kData +
                    "model:\n  layers:\n    - {type: dense, name: fc}\n    - {type: relu, name: fc}\n") ==
        "/configs/exp.yaml:6:26: model.layers.1: duplicate layer name 'fc' (also layer 0 at line 5)");
  // An explicit name may not take another layer's default name.
  CHECK(parse_error(kData + "model:\n  layers:\n    - {type: dense, name: dense_2}\n    - {type: dense}\n")
            .find("duplicate layer name 'dense_2'") != std::string::npos);
  CHECK(parse_error(kData + "model:\n  layers:\n    - {type: dense, name: fc.1}\n")
            .find("model.layers.0: name: must be") != std::string::npos);
  CHECK(parse_error(kData + "model:\n  layers:\n    - {type: dense, name: 3}\n").find("name: must be") !=
        std::string::npos);
}

TEST_CASE("parse config: train, early stopping, checkpoint, cv and search settings") {
  const Config config =
      parse(kData + kModel +
            "train:\n"
            "  epochs: 3\n"
            "  batch_size: 16\n"
            "  shuffle: false\n"
            "  clip_grad_norm: 1.5\n"
            "  early_stopping: {monitor: val_accuracy, patience: 2, mode: max, restore_best: false}\n"
            "  checkpoint: {every: 0, keep: 1, save_best: false}\n"
            "cv: {folds: 3, stratified: false, repeats: 2}\n"
            "search:\n"
            "  strategy: grid\n"
            "  trials: 4\n"
            "  space:\n"
            "    optimizer.lr: {choice: [0.1, 0.01]}\n"
            "threads: 2\n"
            "seed: 7\n"
            "output: out/runs\n");
  CHECK(config.train.epochs == 3);
  CHECK(config.train.batch_size == 16);
  CHECK_FALSE(config.train.shuffle);
  CHECK(config.train.clip_grad_norm == 1.5);
  REQUIRE(config.train.early_stopping.has_value());
  CHECK(config.train.early_stopping->monitor == "val_accuracy");
  CHECK(config.train.early_stopping->patience == 2);
  CHECK(config.train.early_stopping->mode == "max");
  CHECK_FALSE(config.train.early_stopping->restore_best);
  CHECK(config.train.checkpoint.every == 0);
  CHECK(config.train.checkpoint.keep == 1);
  CHECK(config.cv.folds == 3);
  CHECK(config.cv.repeats == 2);
  CHECK(config.search.strategy == "grid");
  CHECK(config.search.trials == 4);
  CHECK(config.search.space.find("optimizer.lr") != nullptr);
  CHECK(config.threads == 2);
  CHECK(config.seed == 7);
  CHECK(config.output == "out/runs");
  CHECK(parse(kData + kModel + "train: {early_stopping: true}\n").train.early_stopping->patience == 3);
  CHECK_FALSE(parse(kData + kModel + "train: {early_stopping: false}\n").train.early_stopping.has_value());
}

TEST_CASE("load config: overrides apply in order, errors point at the --set, the tree reproduces the run") {
  dlrun::testing::TempDir dir;
  const auto file = dir.write("exp/quick.yaml", kData + kModel + "train: {epochs: 5}\n");
  const Config config = load_config(file, {"train.epochs=2", "train.epochs=3", "model.layers.dense_1.units=4",
                                           "optimizer={type: sgd, lr: 0.5}"});
  CHECK(config.name == "quick");
  CHECK(config.train.epochs == 3);
  CHECK(config.layers[0].options.find("units")->text() == "4");
  CHECK(config.optimizer.type == "sgd");
  CHECK(config.data.train.path == dir.path() / "exp/iris.csv");

  CHECK(config_error([&] { load_config(file, {"train.epoch=3"}); }) ==
        "--set train.epoch=3: train: unknown option 'epoch' (did you mean 'epochs'?)");
  CHECK(config_error([&] { load_config(file, {"train.epochs=0"}); }) ==
        "--set train.epochs=0: train: epochs: must be >= 1, got 0");
  CHECK(config_error([&] { load_config(dir.path() / "nope.yaml", {}); }).find("nope.yaml: cannot read") !=
        std::string::npos);

  // config.yaml in a run directory (another folder) gives the same config.
  const std::string emitted = to_yaml(config.tree);
  const auto copy = dir.write("runs/quick-1/config.yaml", emitted);
  const Config again = load_config(copy, {});
  CHECK(again.name == "quick");
  CHECK(again.seed == 42);
  CHECK(again.train.epochs == 3);
  CHECK(again.optimizer.type == "sgd");
  CHECK(again.data.train.path == config.data.train.path);
  CHECK(to_yaml(again.tree) == emitted);
}

TEST_CASE("parse config: the example of DESIGN.md section 3 is valid") {
  const Config config = parse(R"(name: fmnist-cnn              # run name; default: the config file's stem
seed: 42                      # every random choice derives from it
threads: 2                    # default: all cores

data:
  train: {format: idx, images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz,
          labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz}
  test:  {format: idx, images: t10k-images.gz, labels: t10k-labels.gz}            # optional
  validation: {split: 0.1}    # a fraction held out of train (stratified), or a dataset spec, or omitted
  scale: 255                  # divide raw values by this (IDX images)
  normalize: none             # none | standard | minmax
  as_sequence: false
  target: labels

model:
  layers:                     # the input shape is inferred from the data
    - {type: conv2d, name: conv1, filters: 32, kernel: 3, stride: 1, padding: valid, activation: relu}
    - {type: maxpool2d, pool: 2}
    - {type: flatten}
    - {type: dense, name: fc1, units: 128, activation: relu, l2: 1.0e-4}
    - {type: dropout, name: drop1, rate: 0.5}
    - {type: dense, units: 10, activation: softmax}   # softmax + cross_entropy is fused

loss: cross_entropy
metrics: [accuracy]
optimizer: {type: adam, lr: 0.001, weight_decay: 0.0}
schedule: {type: cosine, warmup_epochs: 1}                 # optional

train:
  epochs: 10
  batch_size: 64
  shuffle: true
  clip_grad_norm: 0           # 0 = off
  early_stopping: {monitor: val_loss, patience: 3, min_delta: 0.0, mode: auto, restore_best: true}
  checkpoint: {every: 1, keep: 3, save_best: true, monitor: val_accuracy}

output: runs                  # run directories go under here

cv: {folds: 5, stratified: true, repeats: 1, shuffle: true}

search:
  strategy: random            # grid | random | bayes
  trials: 30
  metric: val_accuracy
  mode: max
  evaluate: holdout           # holdout (the validation split) | cv
  space:                      # keys are override paths, as with --set
    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
    model.layers.fc1.units: {choice: [64, 128, 256]}
    model.layers.drop1.rate: {uniform: [0.0, 0.5]}
    train.batch_size: {choice: [32, 64, 128]}
)",
                              "/work/configs/fmnist.yaml");
  CHECK(config.name == "fmnist-cnn");
  CHECK(config.data.train.images == "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
  CHECK(config.data.test->labels == "/work/configs/t10k-labels.gz");
  CHECK(config.data.scale == 255.0);
  REQUIRE(config.layers.size() == 6);
  CHECK(config.layers[1].name == "maxpool2d_1");
  CHECK(config.layers[5].name == "dense_2");
  CHECK(config.layers[3].options.find("l2")->as_double("l2") == 1.0e-4);
  CHECK(config.schedule->options.find("warmup_epochs")->text() == "1");
  CHECK(config.train.checkpoint.monitor == "val_accuracy");
  CHECK(config.search.trials == 30);
  CHECK(config.search.space.entries().size() == 4);
}
