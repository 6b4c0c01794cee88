// dlrun search: flags, console output and the log file around lib/select's run_search (which owns
// the search directory, the journal, the trials and the outputs) or, with --journal, run_search_worker.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "app/rank_zero_farm.hpp"
#include "select/distributed_search.hpp"
#include "select/search.hpp"
#include "select/search_worker.hpp"
#include "select/worker_queue.hpp"

namespace dlrun::app {

int run_search(const CommonOptions& common, const SearchCommandOptions& options) {
  CommonOptions with_flags = common;
  if (!options.strategy.empty()) with_flags.sets.push_back("search.strategy=" + options.strategy);
  if (options.trials) with_flags.sets.push_back("search.trials=" + std::to_string(*options.trials));
  Config config = load_config_with_flags(with_flags);
  Communicator& world = dlrun::world();
  share_local_cores(config, world);
  apply_threads(config);
  if (options.trials && config.search.strategy == "grid") {
    spdlog::warn("--trials is ignored by the grid strategy: it runs every point of the grid");
  }

  // Under mpirun: rank 0 runs the search and hands trials to the other ranks, which only train.
  if (world.distributed()) {
    if (!options.journal.empty()) {
      throw ConfigError(
          "--journal: search workers share a journal without MPI; under mpirun, rank 0 hands "
          "out the trials (use one or the other)");
    }
    if (!world.is_root()) {
      install_stop_handlers();
      serve_search_trials(config, world, &stop_flag());
      return 0;
    }
  }
  RankZeroFarm farm(world);

  SearchOptions search;
  search.farm = farm.get();
  search.out = common.out;
  search.resume = options.resume;
  search.jobs = options.jobs;
  search.refit = options.refit;
  search.outer_folds = options.outer_folds;
  search.stop_flag = &stop_flag();
  search.log = [](const std::string& line) { spdlog::info("{}", line); };
  if (common.jsonl) search.on_trial = [](const nlohmann::json& trial) { print_json_line(trial); };
  search.on_directory = [](const std::filesystem::path& directory) {
    add_log_file(directory / "log.txt");
    install_stop_handlers();
  };
  SearchOutcome outcome;
  if (!options.journal.empty()) {
    WorkerOptions worker{options.journal, options.worker, options.lease};
    // Each worker logs to a file of its own: workers/<host>-<pid>.log.
    search.on_directory = [](const std::filesystem::path& directory) {
      std::string name = WorkerIdentity::of_this_process().id;
      std::replace(name.begin(), name.end(), ':', '-');
      std::error_code error;  // add_log_file reports a folder it cannot write to
      std::filesystem::create_directories(directory / "workers", error);
      add_log_file(directory / "workers" / (name + ".log"));
      install_stop_handlers();
    };
    outcome = run_search_worker(config, search, worker);
  } else {
    outcome = dlrun::run_search(config, search);
  }
  if (outcome.exit_code == 130 && options.worker) {
    spdlog::warn("interrupted: the running trials go back to the other workers of {}",
                 outcome.directory.string());
  } else if (outcome.exit_code == 130) {
    spdlog::warn("interrupted: finished trials are in the journal; continue with --resume {}",
                 outcome.directory.string());
  } else if (outcome.exit_code != 0) {
    print_error(outcome.directory.string() + ": no trial completed");
  }
  print_json_line(outcome.summary);
  remove_log_file();
  return outcome.exit_code;
}

}  // namespace dlrun::app
