// A self-contained HTML page of headings, tables and Vega-Lite charts. vega, vega-lite and
// vega-embed are inlined (vega_assets.hpp), so the page opens offline and can be mailed as one file.
// Each chart is a <div class="chart" id="chart-..."> that vega-embed fills with an <svg>.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dlrun::report {

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);

  void heading(const std::string& text);
  void paragraph(const std::string& text);
  // Cells are text (escaped here). Columns after the first are right-aligned when numeric.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  // A Vega-Lite spec drawn into a container with id "chart-<name>" (name made unique and safe).
  // Returns the container's id.
  std::string chart(const std::string& name, nlohmann::json spec);

  const std::vector<std::string>& chart_ids() const { return chart_ids_; }
  std::string render() const;

 private:
  std::string title_;
  std::string body_;
  std::vector<std::string> chart_ids_;
  nlohmann::json specs_ = nlohmann::json::object();
};

std::string escape_html(std::string_view text);
// JSON text safe inside a <script> element: "</" never appears (it is written "<\/").
std::string json_for_script(const nlohmann::json& value);

}  // namespace dlrun::report
