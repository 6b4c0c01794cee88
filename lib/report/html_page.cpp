#include "report/html_page.hpp"

#include "report/csv_table.hpp"
#include "report/vega_assets.hpp"

namespace dlrun::report {
namespace {

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px 32px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p { margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }

.chart { display: inline-block; vertical-align: top; margin: 0 28px 16px 0; }
.chart-error { color: #b00; font-size: 13px; }
)";

// Draws every chart; a chart that fails shows its error in place. When all have settled,
// <body data-charts="done"> tells a headless browser (tests) that drawing is over.
constexpr std::string_view kDrawScript = R"(
(function () {
  const specs = JSON.parse(document.getElementById('report-specs').textContent);
  const drawn = Object.keys(specs).map(function (id) {
    return vegaEmbed('#' + id, specs[id], {actions: false, renderer: 'svg'}).catch(function (error) {
      const box = document.getElementById(id);
      box.className += ' chart-error';
      box.textContent = 'chart failed: ' + error;
    });
  });
  Promise.all(drawn).then(function () { document.body.setAttribute('data-charts', 'done'); });
})();
)";

std::string safe_name(const std::string& name) {
  std::string safe;
  for (const char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    safe += keep ? c : '_';
  }
  return safe.empty() ? std::string("chart") : safe;
}

}  // namespace

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string json_for_script(const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::heading(const std::string& text) {
  body_ += "<h2>" + escape_html(text) + "</h2>\n";
}

void HtmlPage::paragraph(const std::string& text) {
  body_ += "<p>" + escape_html(text) + "</p>\n";
}

void HtmlPage::table(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const std::string& cell : header) body_ += "<th>" + escape_html(cell) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool number = i > 0 && CsvTable::number(row[i]).has_value();
      body_ += (number ? "<td class=\"number\">" : "<td>") + escape_html(row[i]) + "</td>";
    }
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

std::string HtmlPage::chart(const std::string& name, nlohmann::json spec) {
  std::string id = "chart-" + safe_name(name);
  for (int n = 2; specs_.contains(id); ++n) id = "chart-" + safe_name(name) + "-" + std::to_string(n);
  if (!spec.contains("$schema")) spec["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json";
  specs_[id] = std::move(spec);
  chart_ids_.push_back(id);
  body_ += "<div class=\"chart\" id=\"" + id + "\"></div>\n";
  return id;
}

std::string HtmlPage::render() const {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     escape_html(title_) + "</title>\n<style>" + std::string(kStyle) + "</style>\n";
  for (const std::string_view script : {vega_js(), vega_lite_js(), vega_embed_js()}) {
    html += "<script>\n";
    html += script;
    html += "\n</script>\n";
  }
  html += "</head>\n<body>\n<h1>" + escape_html(title_) + "</h1>\n" + body_;
  html += "<script type=\"application/json\" id=\"report-specs\">" + json_for_script(specs_) + "</script>\n";
  html += "<script>" + std::string(kDrawScript) + "</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace dlrun::report
