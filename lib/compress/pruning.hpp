// Magnitude pruning: a 0/1 mask per weight tensor of the model's dense and conv2d layers (biases
// and norms are never pruned). Pruned weights are held at zero by multiplying the weights (after
// every optimizer step) and their gradients (before it) by the mask. Checkpoints store each mask
// as a U8 tensor "<param>.mask" next to the weights ("fc1.weight.mask"), see DESIGN.md §5.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.hpp"
#include "model/model.hpp"

namespace dlrun {

enum class PruneScope {
  global,  // one magnitude threshold across all weights: layers end with different sparsities
  layer,   // every weight tensor pruned to the same sparsity
};

PruneScope prune_scope_from_string(const std::string& text);  // "global" | "layer"; ConfigError otherwise

struct WeightSparsity {
  std::string name;  // "fc1.weight"
  Index size = 0;
  Index pruned = 0;  // zeros in the mask
  double sparsity() const { return size > 0 ? static_cast<double>(pruned) / static_cast<double>(size) : 0.0; }
};

class MaskSet {
 public:
  struct Entry {
    std::string name;  // "fc1.weight"
    Parameter* parameter = nullptr;
    Tensor mask;  // 1 keeps, 0 prunes; the weight's shape
  };

  // Every dense and conv2d weight of `model`, all kept (masks of ones). Pointers into the model:
  // the model must outlive the mask set.
  explicit MaskSet(Model& model);
  MaskSet(const MaskSet&) = delete;
  MaskSet& operator=(const MaskSet&) = delete;

  // Sets the masks so that `sparsity` (in [0, 1)) of the weights are pruned, the smallest by
  // magnitude first (ties by position, so the result is deterministic); weights pruned already
  // stay pruned. Then applies the masks.
  void prune_by_magnitude(double sparsity, PruneScope scope);
  void apply();           // weight *= mask
  void mask_gradients();  // grad *= mask

  // "<param>.mask" tensors and their dtypes, for save_checkpoint's extra tensors.
  std::vector<std::pair<std::string, const Tensor*>> checkpoint_tensors() const;
  std::map<std::string, std::string> checkpoint_dtypes() const;
  // Whether `contents` holds any "<param>.mask" tensor.
  static bool present_in(const SafetensorsContents& contents);
  // Reads every weight's mask from `contents`: DataError naming `file` when one is missing,
  // misshapen or not 0/1.
  void load(const SafetensorsContents& contents, const std::filesystem::path& file);

  std::vector<WeightSparsity> sparsity() const;
  double overall_sparsity() const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace dlrun
