// The search journal (`journal.jsonl` in the search directory): append-only JSON lines, each
// written in one write(2) and fsync'd, from which `dlrun search --resume DIR` continues and on
// which search workers (`--journal DIR --worker`, lib/select/search_worker) share the trials.
//   {"event":"search", ...}                                   first line: what the search is
//   {"event":"start","trial":3,"budget":0,"point":[..],"params":{..}}
//   {"event":"finish","trial":3,"budget":0,"point":[..],"params":{..},"status":"completed",
//    "metric":0.97,"epochs":20,"new_epochs":20,"best_epoch":17,"seconds":1.2,"error":""}
// A worker's start is its claim and adds "worker", "host", "pid_space", "pid" and "until" (the
// lease's end, seconds since the epoch); its finish adds "worker". Workers also write
//   {"event":"alive","worker":"host:pid","until":1764716400.5}   heartbeat: its claims' leases
//   {"event":"release","trial":3,"budget":0,"worker":"host:pid"} it gave the trial up (interrupted)
// A finished (trial, budget) is never trained again; a started one without its finish is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "select/search_runner.hpp"

namespace dlrun {

class Journal {
 public:
  explicit Journal(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }
  // Each appends one line durably. Throw OutputError.
  void header(nlohmann::json description);
  // `claim`: a worker's fields (worker, host, pid_space, pid, until), merged into the line.
  void started(Index trial, Index budget, const Point& point, const nlohmann::json& params,
               const nlohmann::json& claim = nullptr);
  void finished(const TrialRecord& record, const nlohmann::json& params, const std::string& worker = "");
  // Any other event (alive, release): `line` must hold "event".
  void append(const nlohmann::json& line);

 private:
  std::filesystem::path path_;
};

// The latest start of a trial: who runs it, and until when its lease holds.
struct Claim {
  Index budget = 0;
  std::string worker;     // empty: started by a plain search (no lease)
  std::string host;       // the worker's host name
  std::string pid_space;  // boot id and pid namespace: where `pid` means a process
  std::int64_t pid = 0;
  double until = 0.0;  // the lease's end when claimed (seconds since the epoch)
  bool released = false;
};

struct JournalContents {
  nlohmann::json header;  // the "search" line
  struct Finished {
    Point point;
    TrialOutcome outcome;
    std::string worker;  // the worker that ran it (empty for a plain search)
  };
  std::map<std::pair<Index, Index>, Finished> finished;  // by (trial, budget)
  std::map<Index, Index> starts;                         // trial -> start lines
  std::map<Index, Claim> claims;                         // trial -> its latest start
  std::map<std::string, double> alive;                   // worker -> its latest heartbeat's lease end
};

// Reads a journal as it grows: each refresh() parses the complete lines appended since the last one.
// A last line without its newline (a write cut short by a kill, or one still being written) is left
// for the next refresh; any unreadable complete line is a DataError naming the file and line.
class JournalReader {
 public:
  explicit JournalReader(std::filesystem::path path) : path_(std::move(path)) {}
  // Throws DataError when the file cannot be read or a line is not a journal entry.
  const JournalContents& refresh();
  const JournalContents& contents() const { return contents_; }

 private:
  std::filesystem::path path_;
  std::uintmax_t offset_ = 0;  // bytes consumed: complete lines only
  int lines_ = 0;
  JournalContents contents_;
};

// Reads a journal. A last line cut short by a kill is ignored; any other unreadable line is a
// DataError naming the file and line. A missing file or one without its header line is a DataError.
JournalContents read_journal(const std::filesystem::path& path);

}  // namespace dlrun
