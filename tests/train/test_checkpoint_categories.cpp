// The categories of data.categorical in checkpoint metadata: round trip, malformed JSON, and the
// check against the categories the config's training rows give.
#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_categories.hpp"

using namespace dlrun;

namespace {

using Columns = std::vector<CategoricalColumn>;

LoadedCheckpoint checkpoint_with(Columns categories) {
  LoadedCheckpoint checkpoint;
  checkpoint.path = "run/checkpoints/best.safetensors";
  checkpoint.has_dlrun_state = true;
  checkpoint.state.categories = std::move(categories);
  return checkpoint;
}

}  // namespace

TEST_CASE("checkpoint categories: JSON round trip and malformed metadata") {
  const Columns columns{{"city", {"berlin", "oslo"}}, {"rooms", {"2", "10"}}};
  const std::string text = categories_to_json(columns);
  CHECK(text ==
        R"([{"categories":["berlin","oslo"],"column":"city"},{"categories":["2","10"],"column":"rooms"}])");
  CHECK(categories_from_json("c.safetensors", text) == columns);
  const std::string prefix = "c.safetensors: malformed checkpoint metadata: categories ";
  CHECK_THROWS_WITH_AS(categories_from_json("c.safetensors", "[{"), (prefix + "is not JSON").c_str(),
                       DataError);
  CHECK_THROWS_WITH_AS(categories_from_json("c.safetensors", "{}"),
                       (prefix + "must be a list of {column, categories}").c_str(), DataError);
  CHECK_THROWS_WITH_AS(
      categories_from_json("c.safetensors", R"([{"column":"a"}])"),
      (prefix + R"(holds {"column":"a"}, not {"column": name, "categories": [names]})").c_str(), DataError);
  CHECK_THROWS_WITH_AS(categories_from_json("c.safetensors", R"([{"column":"a","categories":[1]}])"),
                       (prefix + "of column 'a' holds 1, not a string").c_str(), DataError);
}

TEST_CASE("checkpoint categories: the config's training rows must give the stored categories") {
  const Columns stored{{"city", {"berlin", "oslo"}}};
  CHECK_NOTHROW(check_checkpoint_categories(checkpoint_with(stored), stored));
  const std::string prefix =
      "run/checkpoints/best.safetensors: the checkpoint's one-hot categories differ from those the config's "
      "training rows give (";
  const std::string suffix = "); the model's inputs would mean other categories than in training";
  CHECK_THROWS_WITH_AS(
      check_checkpoint_categories(checkpoint_with(stored), {{"city", {"berlin", "paris"}}}),
      (prefix + "column 'city': the training rows add 'paris'; they lack 'oslo'" + suffix).c_str(),
      DataError);
  CHECK_THROWS_WITH_AS(check_checkpoint_categories(checkpoint_with(stored), {}),
                       (prefix + "it encodes the columns [city], the config [none]" + suffix).c_str(),
                       DataError);
  CHECK_THROWS_WITH_AS(check_checkpoint_categories(checkpoint_with({}), stored),
                       (prefix + "it encodes the columns [none], the config [city]" + suffix).c_str(),
                       DataError);
  // Plain weights (from PyTorch) carry no dlrun state to check.
  LoadedCheckpoint weights = checkpoint_with({});
  weights.has_dlrun_state = false;
  CHECK_NOTHROW(check_checkpoint_categories(weights, stored));
}
