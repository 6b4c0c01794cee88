// report.html drawn by a real browser: headless Chromium loads the reports of a run (with
// --report), a cv and a search directory, and every chart container must hold the <svg> that
// vega-embed draws. Skipped, with a message, when chromium is not installed (scripts/bootstrap
// installs it); DLRUN_CHROMIUM names another binary.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <regex>

#include "e2e/e2e_support.hpp"
#include "support/messages.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

fs::path find_chromium() {
  if (const char* named = std::getenv("DLRUN_CHROMIUM"); named != nullptr && *named != '\0') return named;
  const char* path = std::getenv("PATH");
  std::string folders = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= folders.size();) {
    const std::size_t end = std::min(folders.find(':', start), folders.size());
    for (const char* name : {"chromium", "chromium-browser"}) {
      const fs::path candidate = fs::path(folders.substr(start, end - start)) / name;
      if (!candidate.parent_path().empty() && fs::exists(candidate)) return candidate;
    }
    start = end + 1;
  }
  return {};
}

// The chart containers the page declares, from its source.
std::vector<std::string> declared_charts(const std::string& html) {
  std::vector<std::string> ids;
  const std::regex container("<div class=\"chart\" id=\"(chart-[A-Za-z0-9_-]+)\">");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), container); it != std::sregex_iterator();
       ++it)
    ids.push_back((*it)[1]);
  return ids;
}

// The DOM after scripts ran (virtual time lets vega's timers finish without waiting for real).
std::string rendered_dom(const fs::path& chromium, const fs::path& html, const fs::path& profile) {
  const fs::path out = html.parent_path() / "dom.html";
  const std::string command = "'" + chromium.string() +
                              "' --headless --no-sandbox --disable-gpu --no-first-run "
                              "--disable-background-networking --user-data-dir='" +
                              profile.string() + "' --virtual-time-budget=10000 --dump-dom 'file://" +
                              html.string() + "' > '" + out.string() + "' 2>/dev/null";
  const int status = std::system(command.c_str());
  if (status != 0) return "";
  return read_bytes(out);
}

// Every declared chart holds an <svg> in the rendered DOM and none shows an error.
void check_drawn(const std::string& dom, const std::vector<std::string>& ids) {
  CHECK(contains(dom, "data-charts=\"done\""));
  CHECK_FALSE(contains(dom, "class=\"chart chart-error\""));
  for (const std::string& id : ids) {
    const std::size_t at = dom.find("id=\"" + id + "\"");
    REQUIRE_MESSAGE(at != std::string::npos, id);
    const std::size_t next = dom.find("class=\"chart", at + 1);
    const std::string box = dom.substr(at, next == std::string::npos ? std::string::npos : next - at);
    CHECK_MESSAGE(contains(box, "<svg"), std::string(id + " drew nothing"));
  }
}

}  // namespace

TEST_CASE("browser: run, cv and search reports draw every chart in headless Chromium") {
  const fs::path chromium = find_chromium();
  if (chromium.empty()) {
    std::printf("SKIPPED: chromium not installed (scripts/bootstrap installs it)\n");
    return;
  }
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const std::string train = "train: {epochs: 4, batch_size: 8}\n";
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, train));
  const auto search_config = dir.write(
      "s.yaml",
      tiny_csv_config(csv, train + "search: {strategy: random, trials: 4, metric: val_loss, mode: min,\n"
                                   "  space: {optimizer.lr: {loguniform: [0.001, 0.1]},\n"
                                   "          model.layers.hidden.units: {choice: [4, 8]}}}\n"));
  const fs::path run = dir / "run", cv = dir / "cv", search = dir / "search";
  const auto trained = run_dlrun("train " + config.string() + " --quiet --report --out " + run.string());
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  const auto folds = run_dlrun("cv " + config.string() + " --folds 2 --quiet --out " + cv.string());
  REQUIRE_MESSAGE(folds.exit_code == 0, folds.err);
  const auto searched = run_dlrun("search " + search_config.string() + " --quiet --out " + search.string());
  REQUIRE_MESSAGE(searched.exit_code == 0, searched.err);
  for (const fs::path& folder : {cv, search}) {
    const auto reported = run_dlrun("report " + folder.string());
    REQUIRE_MESSAGE(reported.exit_code == 0, reported.err);
  }

  const std::vector<fs::path> folders = {run, cv, search};
  std::vector<std::future<std::string>> doms;
  for (const fs::path& folder : folders) {
    doms.push_back(std::async(std::launch::async, [&, folder] {
      return rendered_dom(chromium, folder / "report.html", folder / "chromium-profile");
    }));
  }
  for (std::size_t i = 0; i < folders.size(); ++i) {
    CAPTURE(folders[i]);
    const std::vector<std::string> ids = declared_charts(read_bytes(folders[i] / "report.html"));
    const std::string dom = doms[i].get();
    REQUIRE_MESSAGE(!dom.empty(), std::string("chromium failed on " + folders[i].string()));
    if (folders[i] == run) {
      CHECK(ids == std::vector<std::string>{"chart-loss", "chart-accuracy", "chart-lr", "chart-confusion",
                                            "chart-per_class"});
    } else if (folders[i] == cv) {
      CHECK(ids == std::vector<std::string>{"chart-fold_loss", "chart-fold_accuracy"});
    } else {
      CHECK(ids == std::vector<std::string>{"chart-trials", "chart-param_optimizer_lr",
                                            "chart-param_model_layers_hidden_units"});
    }
    check_drawn(dom, ids);
  }
}
