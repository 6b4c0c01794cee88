#include "select/journal.hpp"

#include <cmath>
#include <fstream>

#include "io/files.hpp"

namespace dlrun {
namespace {

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

double number_from(const nlohmann::json& value) {
  return value.is_number() ? value.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

void Journal::header(nlohmann::json description) {
  description["event"] = "search";
  append_line(path_, description.dump(), true);
}

void Journal::started(Index trial, Index budget, const Point& point, const nlohmann::json& params) {
  const nlohmann::json line{
      {"event", "start"}, {"trial", trial}, {"budget", budget}, {"point", point}, {"params", params}};
  append_line(path_, line.dump(), true);
}

void Journal::finished(const TrialRecord& record, const nlohmann::json& params) {
  const TrialOutcome& outcome = record.outcome;
  const nlohmann::json line{{"event", "finish"},
                            {"trial", record.trial},
                            {"budget", record.budget},
                            {"point", record.point},
                            {"params", params},
                            {"status", outcome.status},
                            {"metric", number_or_null(outcome.metric)},
                            {"epochs", outcome.epochs},
                            {"new_epochs", outcome.new_epochs},
                            {"best_epoch", outcome.best_epoch},
                            {"seconds", outcome.seconds},
                            {"error", outcome.error},
                            {"exit_code", outcome.exit_code}};
  append_line(path_, line.dump(), true);
}

JournalContents read_journal(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path.string() + ": cannot read the search journal");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  JournalContents contents;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Location where{path.string(), static_cast<int>(i + 1), 0};
    const nlohmann::json entry = nlohmann::json::parse(lines[i], nullptr, false);
    if (entry.is_discarded() || !entry.is_object() || !entry.contains("event")) {
      if (i + 1 == lines.size() && i > 0) break;  // a write cut short by a kill
      throw DataError(where, "not a journal entry");
    }
    try {
      const std::string event = entry.at("event").get<std::string>();
      if (i == 0) {
        if (event != "search") throw DataError(where, "the journal does not start with its search line");
        contents.header = entry;
      } else if (event == "start") {
        ++contents.starts[entry.at("trial").get<Index>()];
      } else if (event == "finish") {
        JournalContents::Finished finished;
        finished.point = entry.at("point").get<Point>();
        TrialOutcome& outcome = finished.outcome;
        outcome.status = entry.at("status").get<std::string>();
        outcome.metric = number_from(entry.at("metric"));
        outcome.epochs = entry.at("epochs").get<Index>();
        outcome.new_epochs = entry.at("new_epochs").get<Index>();
        outcome.best_epoch = entry.at("best_epoch").get<Index>();
        outcome.seconds = entry.at("seconds").get<double>();
        outcome.error = entry.at("error").get<std::string>();
        outcome.exit_code = entry.value("exit_code", 0);
        contents.finished[{entry.at("trial").get<Index>(), entry.at("budget").get<Index>()}] = finished;
      } else {
        throw DataError(where, "unknown journal event '" + event + "'");
      }
    } catch (const nlohmann::json::exception& error) {
      throw DataError(where, std::string("malformed journal entry: ") + error.what());
    }
  }
  if (contents.header.is_null()) throw DataError(path.string() + ": an empty search journal");
  return contents;
}

}  // namespace dlrun
