#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "config/yaml_loader.hpp"
#include "core/errors.hpp"
#include "io/files.hpp"
#include "report/charts.hpp"
#include "report/csv_table.hpp"
#include "report/html_page.hpp"

namespace dlrun::report {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// summary.json, or an empty object when there is none (a run still going, or killed hard).
json read_summary(const fs::path& directory) {
  const fs::path path = directory / kSummaryFile;
  if (!fs::exists(path)) return json::object();
  std::ifstream in(path);
  json summary = json::parse(in, nullptr, false);
  if (summary.is_discarded() || !summary.is_object()) throw DataError(path.string() + ": not a JSON object");
  return summary;
}

std::string short_number(double value) {
  if (!std::isfinite(value)) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

std::string json_text(const json& value) {
  if (value.is_number()) return short_number(value.get<double>());
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// Keys of summary.json shown in the overview, when present.
void overview(HtmlPage& page, const json& summary, const std::vector<std::string>& keys) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& key : keys) {
    if (summary.contains(key)) rows.push_back({key, json_text(summary[key])});
  }
  if (!rows.empty()) page.table({"", ""}, rows);
}

// The final train / validation / test metrics of a run's summary as one table.
void final_metrics(HtmlPage& page, const json& summary) {
  std::vector<std::string> names;
  for (const char* split : {"train", "validation", "test"}) {
    if (!summary.contains(split) || !summary[split].is_object()) continue;
    for (const auto& [name, value] : summary[split].items())
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) return;
  std::vector<std::string> header = {"split"};
  header.insert(header.end(), names.begin(), names.end());
  std::vector<std::vector<std::string>> rows;
  for (const char* split : {"train", "validation", "test"}) {
    if (!summary.contains(split) || !summary[split].is_object() || summary[split].empty()) continue;
    std::vector<std::string> row = {split};
    for (const std::string& name : names) row.push_back(json_text(summary[split].value(name, json())));
    rows.push_back(row);
  }
  page.heading("Final metrics");
  page.table(header, rows);
}

void learning_curves(HtmlPage& page, const fs::path& directory, long long best_epoch) {
  const fs::path path = directory / "metrics.csv";
  if (!fs::exists(path)) {
    page.paragraph("No metrics.csv: no epoch finished.");
    return;
  }
  const CsvTable table = read_csv_table(path);
  const auto epoch_column = table.column("epoch");
  if (!epoch_column) throw DataError(path.string() + ": no 'epoch' column");
  page.heading("Learning curves");
  if (table.rows.empty()) page.paragraph("metrics.csv has no rows yet.");
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    const std::string& name = table.columns[c];
    if (name == "epoch" || name == "lr" || name == "seconds" || name.starts_with("val_")) continue;
    const auto validation = table.column("val_" + name);
    json rows = json::array();
    for (const auto& row : table.rows) {
      const auto epoch = CsvTable::number(row[*epoch_column]);
      if (!epoch) continue;
      if (const auto v = CsvTable::number(row[c]))
        rows.push_back({{"epoch", *epoch}, {"split", "train"}, {"value", *v}});
      if (validation) {
        if (const auto v = CsvTable::number(row[*validation]))
          rows.push_back({{"epoch", *epoch}, {"split", "validation"}, {"value", *v}});
      }
    }
    page.chart(name, epoch_lines(name, name, std::move(rows), best_epoch));
  }
  if (const auto lr = table.column("lr")) {
    json rows = json::array();
    double low = INFINITY, high = 0.0;
    for (const auto& row : table.rows) {
      const auto epoch = CsvTable::number(row[*epoch_column]);
      const auto v = CsvTable::number(row[*lr]);
      if (!epoch || !v) continue;
      rows.push_back({{"epoch", *epoch}, {"value", *v}});
      low = std::min(low, *v);
      high = std::max(high, *v);
    }
    // A schedule that spans decades (warmup from 1e-5, decay) reads better on a log scale.
    const bool log_y = low > 0.0 && high / low >= 100.0;
    page.chart("lr", epoch_line("learning rate", "lr", std::move(rows), log_y));
  }
}

void evaluation_section(HtmlPage& page, const CheckpointEvaluation& result) {
  page.heading("Checkpoint " + result.checkpoint.filename().string() + " on the " + result.split +
               " split (" + std::to_string(result.examples) + " examples)");
  std::vector<std::vector<std::string>> values;
  for (const auto& [name, value] : result.evaluation.values) values.push_back({name, short_number(value)});
  page.table({"metric", "value"}, values);
  const auto& classes = result.class_names;
  const auto& confusion = result.evaluation.confusion;
  if (classes.empty() || confusion.size() != classes.size()) return;
  json cells = json::array();
  for (std::size_t t = 0; t < classes.size(); ++t) {
    for (std::size_t p = 0; p < classes.size() && p < confusion[t].size(); ++p)
      cells.push_back({{"true", classes[t]}, {"predicted", classes[p]}, {"count", confusion[t][p]}});
  }
  page.chart("confusion",
             confusion_heatmap("confusion matrix (rows: true class)", classes, std::move(cells)));
  json bars = json::array();
  std::vector<std::vector<std::string>> rows;
  for (std::size_t c = 0; c < result.evaluation.per_class.size() && c < classes.size(); ++c) {
    const auto& s = result.evaluation.per_class[c];
    bars.push_back({{"class", classes[c]}, {"score", "precision"}, {"value", s.precision}});
    bars.push_back({{"class", classes[c]}, {"score", "recall"}, {"value", s.recall}});
    bars.push_back({{"class", classes[c]}, {"score", "f1"}, {"value", s.f1}});
    rows.push_back({classes[c], short_number(s.precision), short_number(s.recall), short_number(s.f1),
                    std::to_string(s.support)});
  }
  page.chart("per_class", per_class_bars("per-class scores", classes, std::move(bars)));
  page.table({"class", "precision", "recall", "f1", "support"}, rows);
}

void run_report(HtmlPage& page, const fs::path& directory, const json& summary,
                const std::optional<CheckpointEvaluation>& evaluation) {
  overview(page, summary, {"status", "epochs", "best_epoch", "seconds", "seconds_per_epoch", "error"});
  final_metrics(page, summary);
  learning_curves(page, directory, summary.value("best_epoch", 0LL));
  if (evaluation) evaluation_section(page, *evaluation);
}

void cv_report(HtmlPage& page, const fs::path& directory, const json& summary) {
  overview(page, summary, {"status", "seconds"});
  const CsvTable table = read_csv_table(directory / "folds.csv");
  const auto fold = table.column("fold");
  const auto repeat = table.column("repeat");
  if (!fold) throw DataError((directory / "folds.csv").string() + ": no 'fold' column");
  std::set<std::string> repeats;
  if (repeat)
    for (const auto& row : table.rows) repeats.insert(row[*repeat]);
  page.heading("Scores per fold");
  std::vector<std::vector<std::string>> stats;
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    const std::string& name = table.columns[c];
    if (name == "repeat" || name == "fold" || name == "rows" || name == "epochs" || name == "seconds")
      continue;
    json rows = json::array();
    double sum = 0.0, squares = 0.0;
    int count = 0;
    for (const auto& row : table.rows) {
      const auto v = CsvTable::number(row[c]);
      if (!v) continue;
      const std::string label = repeats.size() > 1 ? "r" + row[*repeat] + " f" + row[*fold] : row[*fold];
      rows.push_back({{"fold", label}, {"value", *v}});
      sum += *v;
      squares += *v * *v;
      ++count;
    }
    if (count == 0) continue;
    const double mean = sum / count;
    // summary.json's std (dlrun cv's own) when present, else the sample standard deviation.
    const double spread =
        count > 1 ? std::sqrt(std::max(0.0, (squares - count * mean * mean) / (count - 1))) : 0.0;
    const double std_value =
        summary.contains("std") && summary["std"].contains(name) && summary["std"][name].is_number()
            ? summary["std"][name].get<double>()
            : spread;
    stats.push_back({name, short_number(mean), short_number(std_value), std::to_string(count)});
    page.chart("fold_" + name, fold_bars(name + " per fold (dashed: mean)", name, std::move(rows)));
  }
  page.table({"metric", "mean", "std", "folds"}, stats);
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : table.rows) rows.push_back(row);
  page.table(table.columns, rows);
}

// The search space's dimensions drawn from a list of choices (search.space.<path>.choice in the
// search directory's config.yaml): their values are categories, even when numbers (units: 16, 64).
std::set<std::string> choice_dimensions(const fs::path& directory) {
  std::set<std::string> choices;
  if (!fs::exists(directory / "config.yaml")) return choices;
  const Node tree = load_yaml_file(directory / "config.yaml");
  const Node* search = tree.find("search");
  const Node* space = search != nullptr ? search->find("space") : nullptr;
  if (space == nullptr || !space->is_map()) return choices;
  for (const NodeEntry& entry : space->entries()) {
    if (entry.value.is_map() && entry.value.find("choice") != nullptr) choices.insert(entry.key);
  }
  return choices;
}

void search_report(HtmlPage& page, const fs::path& directory, const json& summary) {
  overview(page, summary,
           {"strategy", "metric", "mode", "evaluate", "trials", "completed", "failed", "seconds"});
  const fs::path path = directory / "trials.csv";
  const CsvTable table = read_csv_table(path);
  const auto trial = table.column("trial");
  const auto epochs = table.column("epochs");
  const auto status = table.column("status");
  if (!trial || !epochs || !status || *epochs < 2)
    throw DataError(path.string() +
                    ": not a trials.csv (trial, ..., metric, epochs, seconds, status, error)");
  // The metric is the column before "epochs"; the hyperparameters lie between "trial" and it.
  const std::size_t metric_column = *epochs - 1;
  const std::string metric = table.columns[metric_column];
  const bool maximize = summary.value("mode", std::string("max")) != "min";

  struct Row {
    const std::vector<std::string>* cells;
    double metric;
  };
  std::vector<Row> finished;
  for (const auto& row : table.rows) {
    const auto v = CsvTable::number(row[metric_column]);
    if (v && row[*status] == "completed") finished.push_back({&row, *v});
  }
  std::stable_sort(finished.begin(), finished.end(), [&](const Row& a, const Row& b) {
    return maximize ? a.metric > b.metric : a.metric < b.metric;
  });
  page.heading("Leaderboard (" + metric + ", " + (maximize ? "higher" : "lower") + " is better)");
  std::vector<std::string> header = {"rank"};
  for (std::size_t c = 0; c <= metric_column + 2 && c < table.columns.size(); ++c)
    header.push_back(table.columns[c]);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < finished.size() && i < 25; ++i) {
    std::vector<std::string> row = {std::to_string(i + 1)};
    for (std::size_t c = 0; c + 1 < header.size(); ++c) row.push_back((*finished[i].cells)[c]);
    rows.push_back(row);
  }
  page.table(header, rows);
  if (finished.size() > 25)
    page.paragraph(std::to_string(finished.size() - 25) + " more completed trials in trials.csv.");
  const std::size_t failed = std::count_if(table.rows.begin(), table.rows.end(),
                                           [&](const auto& row) { return row[*status] != "completed"; });
  if (failed > 0) page.paragraph(std::to_string(failed) + " trials did not complete (see trials.csv).");

  page.heading("Hyperparameters against " + metric);
  json history = json::array();
  std::optional<double> best;
  for (const auto& row : table.rows) {
    const auto v = CsvTable::number(row[metric_column]);
    const auto t = CsvTable::number(row[*trial]);
    if (!v || !t || row[*status] != "completed") continue;
    best = !best ? *v : (maximize ? std::max(*best, *v) : std::min(*best, *v));
    history.push_back({{"trial", *t}, {"metric", *v}, {"best", *best}});
  }
  page.chart("trials", trial_history(metric, std::move(history)));
  const std::set<std::string> choices = choice_dimensions(directory);
  for (std::size_t c = *trial + 1; c < metric_column; ++c) {
    const std::string& param = table.columns[c];
    bool numeric = !choices.contains(param);
    double low = INFINITY, high = -INFINITY;
    for (const Row& row : finished) {
      const auto x = CsvTable::number((*row.cells)[c]);
      if (!numeric || !x) {
        numeric = false;
        break;
      }
      low = std::min(low, *x);
      high = std::max(high, *x);
    }
    // Choices in numeric order when they are numbers (4, 16, 64), else in text order.
    std::vector<std::string> order;
    for (const Row& row : finished) order.push_back((*row.cells)[c]);
    const bool numbers = std::all_of(order.begin(), order.end(),
                                     [](const auto& v) { return CsvTable::number(v).has_value(); });
    std::sort(order.begin(), order.end(), [numbers](const std::string& a, const std::string& b) {
      return numbers ? *CsvTable::number(a) < *CsvTable::number(b) : a < b;
    });
    order.erase(std::unique(order.begin(), order.end()), order.end());
    json points = json::array();
    for (const Row& row : finished) {
      const std::string& cell = (*row.cells)[c];
      json x = numeric ? json(*CsvTable::number(cell)) : json(cell);
      points.push_back({{"param", x}, {"metric", row.metric}, {"trial", (*row.cells)[*trial]}});
    }
    // Learning rates and weight decays searched log-uniformly spread over decades.
    const bool log_x = numeric && low > 0.0 && high / low >= 100.0;
    page.chart("param_" + param, param_scatter(param, metric, std::move(points), numeric, log_x, order));
  }
}

}  // namespace

DirectoryKind directory_kind(const fs::path& directory) {
  if (!fs::is_directory(directory)) throw DataError(directory.string() + ": not a directory");
  const json summary = read_summary(directory);
  const std::string command = summary.value("command", std::string());
  if (command == "search" || (command.empty() && fs::exists(directory / "trials.csv")))
    return DirectoryKind::search;
  if (command == "cv" || (command.empty() && fs::exists(directory / "folds.csv"))) return DirectoryKind::cv;
  if (command == "train" || fs::exists(directory / "metrics.csv")) return DirectoryKind::run;
  throw DataError(
      directory.string() +
      ": not a run, cv or search directory (no summary.json, metrics.csv, folds.csv or trials.csv)");
}

Report build_report(const fs::path& directory, const std::optional<CheckpointEvaluation>& evaluation) {
  const DirectoryKind kind = directory_kind(directory);
  const json summary = read_summary(directory);
  const std::string name = fs::absolute(directory).lexically_normal().filename().string();
  const char* what = kind == DirectoryKind::search ? "search"
                     : kind == DirectoryKind::cv   ? "cross-validation"
                                                   : "run";
  HtmlPage page(std::string("dlrun ") + what + ": " + (name.empty() ? directory.string() : name));
  if (summary.empty())
    page.paragraph("No summary.json: the run is still going, or was killed before it ended.");
  switch (kind) {
    case DirectoryKind::run:
      run_report(page, directory, summary, evaluation);
      break;
    case DirectoryKind::cv:
      cv_report(page, directory, summary);
      break;
    case DirectoryKind::search:
      search_report(page, directory, summary);
      break;
  }
  return {page.render(), page.chart_ids()};
}

fs::path write_report(const fs::path& directory, const Report& report) {
  const fs::path path = directory / "report.html";
  write_text_atomic(path, report.html);
  return path;
}

}  // namespace dlrun::report
