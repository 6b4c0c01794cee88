// Loading the config with the command-line flags applied (--set, --threads), and the process-wide
// stop flag that SIGINT/SIGTERM raise.
#pragma once

#include <atomic>

#include "app/commands.hpp"
#include "config/config.hpp"

namespace dlrun::app {

// Loads the config, applying --set overrides in order and then --threads.
Config load_config_with_flags(const CommonOptions& common);
// Sizes dlrun's and OpenBLAS's thread pools from the config.
void apply_threads(const Config& config);
// Raised by SIGINT/SIGTERM once handlers are installed (install_stop_handlers).
const std::atomic<bool>& stop_flag();
void install_stop_handlers();

}  // namespace dlrun::app
