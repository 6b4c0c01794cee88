// After the first batch the training step allocates nothing: every layer, the loss, the optimizer,
// the batch assembler and the thread pool reuse the storage the first batch sized, and a Shape
// holds its dimensions inline. The test binary counts operator new on every thread
// (support/allocation_counter) from the end of the first batch to the end of the last, for a model
// of each family, on two threads, with a short last batch, and requires zero allocations of any
// size (DLRUN_TRACE_ALLOCATIONS=1 prints the call stack of any that appear).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/threads.hpp"
#include "support/allocation_counter.hpp"
#include "train/experiment.hpp"
#include "train/trainer.hpp"

using namespace dlrun;

namespace {

constexpr Index kRows = 60;  // batches of 16: three full ones and a last one of 12

// A dataset of kRows random byte images (or sequences) of `sample_shape`, in three classes.
LoadedData random_data(const Shape& sample_shape, bool as_floats) {
  auto dataset = std::make_shared<Dataset>();
  dataset->source = "memory";
  dataset->sample_shape = sample_shape;
  dataset->class_names = {"a", "b", "c"};
  Rng rng(3);
  const Index values = kRows * sample_shape.element_count();
  for (Index i = 0; i < values; ++i) {
    const auto value = static_cast<std::uint8_t>(rng.next_u64() % 256);
    if (as_floats) {
      dataset->floats.push_back(static_cast<float>(value) / 255.0f);
    } else {
      dataset->bytes.push_back(value);
    }
  }
  for (Index i = 0; i < kRows; ++i) dataset->labels.push_back(static_cast<std::int32_t>(i % 3));
  LoadedData data;
  data.train.dataset = dataset;
  for (Index i = 0; i < kRows; ++i) data.train.rows.push_back(i);
  data.transform = InputTransform::fit(*dataset, data.train.rows, as_floats ? 1.0 : 255.0, "none");
  return data;
}

struct Counted {
  std::size_t allocations = 0;
  std::size_t bytes = 0;
  std::size_t largest = 0;
  std::size_t aligned = 0;
};

void check_no_allocation(const Counted& counted) {
  INFO("allocations after the first batch: " << counted.allocations << " (" << counted.bytes
                                             << " bytes, largest " << counted.largest << ", "
                                             << counted.aligned << " of tensor storage)");
  CHECK(counted.allocations == 0);
  CHECK(counted.bytes == 0);
}

// Counts the allocations from the end of step 1 to the end of the last step of the first epoch.
class CountAfterFirstBatch final : public Callback {
 public:
  void on_batch_end(const BatchReport& report, const TrainState& /*state*/) override {
    if (report.epoch != 1) return;
    if (report.step == 1) testing::start_counting_allocations();
    if (report.step == report.steps) {
      testing::stop_counting_allocations();
      counted.allocations = testing::allocations_counted();
      counted.bytes = testing::bytes_counted();
      counted.largest = testing::largest_allocation_counted();
      counted.aligned = testing::aligned_allocations_counted();
    }
  }
  Counted counted;
};

Counted train_counting(const std::string& layers_yaml, const std::string& optimizer,
                       const Shape& sample_shape, bool as_floats = false) {
  const std::string text =
      "seed: 7\ndata:\n  train: {format: idx, images: x, labels: y}\nmodel:\n  layers:\n" + layers_yaml +
      "loss: cross_entropy\nmetrics: [accuracy]\noptimizer: " + optimizer +
      "\ntrain: {epochs: 1, batch_size: 16}\n";
  auto experiment = prepare_experiment(config_from_tree(parse_yaml(text, "memory.yaml"), "memory.yaml"),
                                       random_data(sample_shape, as_floats));
  Experiment& e = *experiment;
  Trainer trainer(e.config, e.model, *e.optimizer, e.schedule.get(), *e.loss, e.data, e.task);
  CountAfterFirstBatch counter;
  trainer.add_callback(counter);
  const TrainState state = trainer.fit(TrainState{});
  REQUIRE(state.global_step == 4);
  return counter.counted;
}

class TwoThreads {
 public:
  TwoThreads() : previous_(thread_count()) { set_thread_count(2); }
  ~TwoThreads() { set_thread_count(previous_); }
  TwoThreads(const TwoThreads&) = delete;
  TwoThreads& operator=(const TwoThreads&) = delete;

 private:
  int previous_;
};

}  // namespace

TEST_CASE("nothing allocated after the first batch: MLP with dropout, Adam") {
  const TwoThreads threads;
  const Counted counted = train_counting(
      "    - {type: flatten}\n"
      "    - {type: dense, units: 32, activation: relu}\n"
      "    - {type: dropout, rate: 0.2}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      "{type: adam, lr: 0.001}", Shape{1, 12, 12});
  check_no_allocation(counted);
}

TEST_CASE("nothing allocated after the first batch: CNN (conv, relu, pool, flatten fused), SGD momentum") {
  const TwoThreads threads;
  const Counted counted = train_counting(
      "    - {type: conv2d, filters: 4, kernel: 3, activation: relu}\n"
      "    - {type: maxpool2d, pool: 2}\n"
      "    - {type: conv2d, filters: 8, kernel: 3, padding: same}\n"
      "    - {type: batchnorm}\n"
      "    - {type: activation, activation: relu}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      "{type: sgd, lr: 0.01, momentum: 0.9}", Shape{1, 12, 12});
  check_no_allocation(counted);
}

TEST_CASE("nothing allocated after the first batch: stacked LSTM and GRU") {
  const TwoThreads threads;
  const Counted counted = train_counting(
      "    - {type: lstm, units: 8, return_sequences: true}\n"
      "    - {type: gru, units: 8}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      "{type: adam, lr: 0.001}", Shape{6, 5}, true);
  check_no_allocation(counted);
}

TEST_CASE("nothing allocated after the first batch: transformer block with dropout") {
  const TwoThreads threads;
  const Counted counted = train_counting(
      "    - {type: transformer_block, heads: 2, ff: 16, dropout: 0.1, causal: true}\n"
      "    - {type: sequence_pool, mode: mean}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      "{type: adam, lr: 0.001}", Shape{6, 8}, true);
  check_no_allocation(counted);
}

TEST_CASE("the allocation counter sees tensor storage and small blocks, on the pool's threads too") {
  const TwoThreads threads;
  std::vector<std::vector<Index>> kept(2);
  testing::start_counting_allocations();
  const Tensor tensor(Shape{4, 16});
  parallel_for(2, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) kept[static_cast<std::size_t>(i)] = {i, 2, 3};  // 24 bytes each
  });
  testing::stop_counting_allocations();
  CHECK(tensor.size() == 64);
  CHECK(kept[1] == std::vector<Index>{1, 2, 3});
  CHECK(testing::aligned_allocations_counted() == 1);  // the tensor's 64 floats
  CHECK(testing::allocations_counted() == 3);          // and the two vectors
  CHECK(testing::bytes_counted() == 64 * sizeof(float) + 2 * 3 * sizeof(Index));
  CHECK(testing::largest_allocation_counted() == 64 * sizeof(float));
}
