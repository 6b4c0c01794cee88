#include "compress/pruning.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.hpp"

namespace dlrun {
namespace {

constexpr std::string_view kMaskSuffix = ".mask";

struct Candidate {
  float magnitude;  // -1 for a weight pruned already, so that it stays pruned
  std::size_t entry;
  Index position;
};

// Zeroes the masks of the `count` smallest candidates (ties by entry, then position).
void prune_smallest(std::vector<Candidate>& candidates, Index count, std::vector<MaskSet::Entry>& entries) {
  if (count <= 0) return;
  const auto less = [](const Candidate& a, const Candidate& b) {
    if (a.magnitude != b.magnitude) return a.magnitude < b.magnitude;
    if (a.entry != b.entry) return a.entry < b.entry;
    return a.position < b.position;
  };
  const auto nth = candidates.begin() + std::min<Index>(count, static_cast<Index>(candidates.size()));
  std::nth_element(candidates.begin(), nth - 1, candidates.end(), less);
  for (auto it = candidates.begin(); it != nth; ++it) entries[it->entry].mask.data()[it->position] = 0.0f;
}

void add_candidates(const MaskSet::Entry& entry, std::size_t index, std::vector<Candidate>& out) {
  const float* weight = entry.parameter->value.data();
  const float* mask = entry.mask.data();
  for (Index i = 0; i < entry.mask.size(); ++i) {
    out.push_back(Candidate{mask[i] == 0.0f ? -1.0f : std::fabs(weight[i]), index, i});
  }
}

}  // namespace

PruneScope prune_scope_from_string(const std::string& text) {
  if (text == "global") return PruneScope::global;
  if (text == "layer") return PruneScope::layer;
  throw ConfigError("pruning scope must be global or layer, got '" + text + "'");
}

MaskSet::MaskSet(Model& model) {
  for (Index i = 0; i < model.size(); ++i) {
    ModelLayer& layer = model.layer(i);
    if (layer.type != "dense" && layer.type != "conv2d") continue;
    for (Parameter& parameter : layer.layer->parameters()) {
      if (parameter.name != "weight") continue;
      Tensor mask(parameter.value.shape());
      mask.fill(1.0f);
      entries_.push_back(Entry{layer.name + "." + parameter.name, &parameter, std::move(mask)});
    }
  }
}

void MaskSet::prune_by_magnitude(double sparsity, PruneScope scope) {
  require(sparsity >= 0.0 && sparsity < 1.0, "prune_by_magnitude: sparsity outside [0, 1)");
  std::vector<Candidate> candidates;
  if (scope == PruneScope::global) {
    Index total = 0;
    for (const Entry& entry : entries_) total += entry.mask.size();
    candidates.reserve(static_cast<std::size_t>(total));
    for (std::size_t e = 0; e < entries_.size(); ++e) add_candidates(entries_[e], e, candidates);
    prune_smallest(candidates, std::llround(sparsity * static_cast<double>(total)), entries_);
  } else {
    for (std::size_t e = 0; e < entries_.size(); ++e) {
      candidates.clear();
      add_candidates(entries_[e], e, candidates);
      prune_smallest(candidates, std::llround(sparsity * static_cast<double>(entries_[e].mask.size())),
                     entries_);
    }
  }
  apply();
}

void MaskSet::apply() {
  for (Entry& entry : entries_) {
    float* weight = entry.parameter->value.data();
    const float* mask = entry.mask.data();
    for (Index i = 0; i < entry.mask.size(); ++i) weight[i] *= mask[i];
  }
}

void MaskSet::mask_gradients() {
  for (Entry& entry : entries_) {
    float* grad = entry.parameter->grad.data();
    const float* mask = entry.mask.data();
    for (Index i = 0; i < entry.mask.size(); ++i) grad[i] *= mask[i];
  }
}

std::vector<std::pair<std::string, const Tensor*>> MaskSet::checkpoint_tensors() const {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const Entry& entry : entries_)
    tensors.emplace_back(entry.name + std::string(kMaskSuffix), &entry.mask);
  return tensors;
}

std::map<std::string, std::string> MaskSet::checkpoint_dtypes() const {
  std::map<std::string, std::string> dtypes;
  for (const Entry& entry : entries_) dtypes[entry.name + std::string(kMaskSuffix)] = "U8";
  return dtypes;
}

bool MaskSet::present_in(const SafetensorsContents& contents) {
  return std::any_of(contents.tensors.begin(), contents.tensors.end(),
                     [](const auto& item) { return item.first.ends_with(kMaskSuffix); });
}

void MaskSet::load(const SafetensorsContents& contents, const std::filesystem::path& file) {
  for (Entry& entry : entries_) {
    const std::string name = entry.name + std::string(kMaskSuffix);
    const Tensor* stored = contents.find(name);
    if (stored == nullptr)
      throw DataError(file.string() + ": pruned checkpoint lacks the mask '" + name + "'");
    if (stored->shape() != entry.mask.shape()) {
      throw DataError(file.string() + ": " + name + " has shape " + stored->shape().to_string() +
                      ", the weight has " + entry.mask.shape().to_string());
    }
    for (const float value : stored->values()) {
      if (value != 0.0f && value != 1.0f)
        throw DataError(file.string() + ": " + name + " holds values other than 0 and 1");
    }
    entry.mask = *stored;
  }
}

std::vector<WeightSparsity> MaskSet::sparsity() const {
  std::vector<WeightSparsity> result;
  for (const Entry& entry : entries_) {
    const auto kept = std::count(entry.mask.values().begin(), entry.mask.values().end(), 1.0f);
    result.push_back(
        WeightSparsity{entry.name, entry.mask.size(), entry.mask.size() - static_cast<Index>(kept)});
  }
  return result;
}

double MaskSet::overall_sparsity() const {
  Index size = 0, pruned = 0;
  for (const WeightSparsity& s : sparsity()) {
    size += s.size;
    pruned += s.pruned;
  }
  return size > 0 ? static_cast<double>(pruned) / static_cast<double>(size) : 0.0;
}

}  // namespace dlrun
