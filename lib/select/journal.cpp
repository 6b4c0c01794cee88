#include "select/journal.hpp"

#include <algorithm>
#include <fstream>

#include "io/files.hpp"

namespace dlrun {
namespace {

// Folds one journal line into `contents`. Throws DataError at `where`.
void apply_line(JournalContents& contents, const std::string& line, const Location& where) {
  const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
  if (entry.is_discarded() || !entry.is_object() || !entry.contains("event")) {
    throw DataError(where, "not a journal entry");
  }
  try {
    const std::string event = entry.at("event").get<std::string>();
    if (contents.header.is_null()) {
      if (event != "search") throw DataError(where, "the journal does not start with its search line");
      contents.header = entry;
    } else if (event == "start") {
      const Index trial = entry.at("trial").get<Index>();
      ++contents.starts[trial];
      Claim& claim = contents.claims[trial];
      claim = Claim{};
      claim.budget = entry.at("budget").get<Index>();
      claim.worker = entry.value("worker", "");
      claim.host = entry.value("host", "");
      claim.pid_space = entry.value("pid_space", "");
      claim.pid = entry.value("pid", std::int64_t{0});
      claim.until = entry.value("until", 0.0);
    } else if (event == "finish") {
      JournalContents::Finished finished;
      finished.point = entry.at("point").get<Point>();
      finished.worker = entry.value("worker", "");
      finished.outcome = outcome_from_json(entry);
      contents.finished[{entry.at("trial").get<Index>(), entry.at("budget").get<Index>()}] = finished;
    } else if (event == "alive") {
      double& until = contents.alive[entry.at("worker").get<std::string>()];
      until = std::max(until, entry.at("until").get<double>());
    } else if (event == "release") {
      const auto claim = contents.claims.find(entry.at("trial").get<Index>());
      if (claim != contents.claims.end() && claim->second.worker == entry.at("worker").get<std::string>()) {
        claim->second.released = true;
      }
    } else {
      throw DataError(where, "unknown journal event '" + event + "'");
    }
  } catch (const nlohmann::json::exception& error) {
    throw DataError(where, std::string("malformed journal entry: ") + error.what());
  }
}

}  // namespace

void Journal::header(nlohmann::json description) {
  description["event"] = "search";
  append_line(path_, description.dump(), true);
}

void Journal::started(Index trial, Index budget, const Point& point, const nlohmann::json& params,
                      const nlohmann::json& claim) {
  nlohmann::json line{
      {"event", "start"}, {"trial", trial}, {"budget", budget}, {"point", point}, {"params", params}};
  if (claim.is_object()) line.update(claim);
  append_line(path_, line.dump(), true);
}

void Journal::finished(const TrialRecord& record, const nlohmann::json& params, const std::string& worker) {
  nlohmann::json line{{"event", "finish"},
                      {"trial", record.trial},
                      {"budget", record.budget},
                      {"point", record.point},
                      {"params", params}};
  line.update(outcome_json(record.outcome));
  if (!worker.empty()) line["worker"] = worker;
  append_line(path_, line.dump(), true);
}

void Journal::append(const nlohmann::json& line) {
  append_line(path_, line.dump(), true);
}

const JournalContents& JournalReader::refresh() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw DataError(path_.string() + ": cannot read the search journal");
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t begin = 0;
  for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
    ++lines_;
    apply_line(contents_, text.substr(begin, end - begin), Location{path_.string(), lines_, 0});
    offset_ += end + 1 - begin;
  }
  return contents_;
}

JournalContents read_journal(const std::filesystem::path& path) {
  JournalReader reader(path);
  JournalContents contents = reader.refresh();  // a last line without its newline is left out
  if (contents.header.is_null()) throw DataError(path.string() + ": an empty search journal");
  return contents;
}

}  // namespace dlrun
