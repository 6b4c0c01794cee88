// The search journal (`journal.jsonl` in the search directory): append-only JSON lines, each
// written in one write(2) and fsync'd, from which `dlrun search --resume DIR` continues.
//   {"event":"search", ...}                                   first line: what the search is
//   {"event":"start","trial":3,"budget":0,"point":[..],"params":{..}}
//   {"event":"finish","trial":3,"budget":0,"point":[..],"params":{..},"status":"completed",
//    "metric":0.97,"epochs":20,"new_epochs":20,"best_epoch":17,"seconds":1.2,"error":""}
// A finished (trial, budget) is never trained again; a started one without its finish is.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "select/search_runner.hpp"

namespace dlrun {

class Journal {
 public:
  explicit Journal(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }
  // Each appends one line durably. Throw OutputError.
  void header(nlohmann::json description);
  void started(Index trial, Index budget, const Point& point, const nlohmann::json& params);
  void finished(const TrialRecord& record, const nlohmann::json& params);

 private:
  std::filesystem::path path_;
};

struct JournalContents {
  nlohmann::json header;  // the "search" line
  struct Finished {
    Point point;
    TrialOutcome outcome;
  };
  std::map<std::pair<Index, Index>, Finished> finished;  // by (trial, budget)
  std::map<Index, Index> starts;                         // trial -> start lines
};

// Reads a journal. A last line cut short by a kill is ignored; any other unreadable line is a
// DataError naming the file and line. A missing file or one without its header line is a DataError.
JournalContents read_journal(const std::filesystem::path& path);

}  // namespace dlrun
