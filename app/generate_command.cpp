// dlrun generate: sample text from a character language model's checkpoint; the text (prompt and
// continuation) goes to stdout, a one-line account to stderr.
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "train/checkpoint.hpp"
#include "train/generate.hpp"

namespace dlrun::app {

int run_generate(const CommonOptions& common, const GenerateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  Config config = load_config_with_flags(common);
  apply_threads(config);
  Model model = build_text_model(config);
  const LoadedCheckpoint checkpoint = read_checkpoint(options.checkpoint);
  if (checkpoint.state.vocabulary.empty()) {
    throw DataError(options.checkpoint.string() +
                    ": the checkpoint has no character vocabulary (only dlrun checkpoints of models "
                    "trained on text data have one); generate needs it to map characters");
  }
  TextGenerator generator(model, checkpoint.state.vocabulary);
  const SamplingOptions sampling{options.temperature, static_cast<Index>(options.top_k)};
  generator.check(options.prompt, static_cast<Index>(options.length), sampling);
  load_model_parameters(model, checkpoint);

  const std::uint64_t seed = options.seed.value_or(config.seed);
  Rng rng = Rng::for_stream(seed, "generate");
  const std::string text =
      generator.generate(options.prompt, static_cast<Index>(options.length), sampling, rng);
  std::cout << text << '\n' << std::flush;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("generated {} characters in {:.2f}s (temperature {}, top-k {}, seed {})", options.length,
               seconds, options.temperature, options.top_k, seed);
  return 0;
}

}  // namespace dlrun::app
