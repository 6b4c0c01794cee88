#include "app/config_loading.hpp"

#include <csignal>

#include "config/parse_config.hpp"
#include "core/threads.hpp"

namespace dlrun::app {
namespace {
std::atomic<bool> stop_requested{false};
// The first signal asks for a clean stop (finish the batch, checkpoint); a second one kills.
extern "C" void on_stop_signal(int signal) {
  stop_requested.store(true);
  std::signal(signal, SIG_DFL);
}
}  // namespace

Config load_config_with_flags(const CommonOptions& common) {
  std::vector<std::string> overrides = common.sets;
  if (common.threads) overrides.push_back("threads=" + std::to_string(*common.threads));
  return load_config(common.config, overrides);
}

void apply_threads(const Config& config) {
  set_thread_count(config.threads);
}

const std::atomic<bool>& stop_flag() {
  return stop_requested;
}

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

}  // namespace dlrun::app
