// Search workers without MPI (`dlrun search CONFIG --journal DIR --worker`): any number of
// processes, started anywhere that mounts DIR, take the trials of one search from its journal
// under a file lock (lib/select/journal_lock), with no server. Each worker claims the lowest free
// trial (a start line with its id, host, pid and lease; lib/select/worker_queue decides), trains
// it, appends its finish and rewrites trials.csv; a heartbeat line every quarter lease keeps its
// claims alive. A trial whose worker died (lease expired, or on the same machine its process is
// gone) is taken over by the next worker that looks. The worker that finds every trial finished
// and no summary.json writes the outputs (the replay of `--resume DIR`: trials.csv, best.yaml,
// summary.json) under the lock, so there is exactly one writer. Grid and random trials are the
// serial search's; bayes trials too, since a trial is claimed only once the trials it is proposed
// from have finished. docs/search.md and docs/scaling.md describe the rules.
#pragma once

#include <filesystem>

#include "config/config.hpp"
#include "select/search.hpp"

namespace dlrun {

struct WorkerOptions {
  std::filesystem::path directory;  // --journal DIR: the shared search directory
  bool work = true;                 // false: only create (or check) the directory, train nothing
  double lease_seconds = 60.0;      // a claim without a heartbeat for this long is dead
};

// Creates DIR (config.yaml, the journal's header) unless it exists, checks that its config is
// `config` (threads aside), and with `work`, takes and trains trials until every trial has finished
// (waiting for trials that others run, to take them over should their worker die) or the stop flag
// rises (its running trials are released to others: exit code 130). The outcome's summary is
// summary.json's (when written) plus "worker": {"id", "trials": [the trials it ran]}; its exit code
// is the search's (0 when a trial completed, else the first failure's code). Throws ConfigError
// (also for a scheduler, --refit or --outer-folds, which need one process), DataError for a bad
// journal, OutputError.
SearchOutcome run_search_worker(const Config& config, const SearchOptions& options,
                                const WorkerOptions& worker);

}  // namespace dlrun
