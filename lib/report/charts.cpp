#include "report/charts.hpp"

namespace dlrun::report {
namespace {

using json = nlohmann::json;

constexpr int kWidth = 360;
constexpr int kHeight = 220;

json base(const std::string& title, json rows) {
  return {{"title", title}, {"width", kWidth}, {"height", kHeight}, {"data", {{"values", std::move(rows)}}}};
}

}  // namespace

json epoch_lines(const std::string& title, const std::string& y_title, json rows, long long best_epoch,
                 bool log_y) {
  json spec = base(title, std::move(rows));
  json y = {{"field", "value"}, {"type", "quantitative"}, {"title", y_title}, {"scale", {{"zero", false}}}};
  if (log_y) y["scale"]["type"] = "log";
  json lines = {
      {"mark", {{"type", "line"}, {"point", true}, {"tooltip", true}}},
      {"encoding",
       {{"x",
         {{"field", "epoch"},
          {"type", "quantitative"},
          {"title", "epoch"},
          {"axis", {{"tickMinStep", 1}, {"format", "d"}}}}},
        {"y", y},
        {"color",
         {{"field", "split"}, {"type", "nominal"}, {"title", nullptr}, {"sort", {"train", "validation"}}}}}}};
  spec["layer"] = json::array({lines});
  if (best_epoch > 0) {
    spec["layer"].push_back({{"data", {{"values", json::array({{{"epoch", best_epoch}}})}}},
                             {"mark", {{"type", "rule"}, {"strokeDash", {4, 4}}, {"color", "#888"}}},
                             {"encoding", {{"x", {{"field", "epoch"}, {"type", "quantitative"}}}}}});
  }
  return spec;
}

json epoch_line(const std::string& title, const std::string& y_title, json rows, bool log_y) {
  json spec = base(title, std::move(rows));
  // "~g": 0.001 rather than d3's default 0.0010 (or 0 when the domain is one constant value).
  json y = {{"field", "value"},
            {"type", "quantitative"},
            {"title", y_title},
            {"axis", {{"format", "~g"}}},
            {"scale", {{"zero", false}}}};
  if (log_y) y["scale"]["type"] = "log";
  spec["mark"] = {{"type", "line"}, {"point", true}, {"tooltip", true}};
  spec["encoding"] = {{"x",
                       {{"field", "epoch"},
                        {"type", "quantitative"},
                        {"title", "epoch"},
                        {"axis", {{"tickMinStep", 1}, {"format", "d"}}}}},
                      {"y", y}};
  return spec;
}

json confusion_heatmap(const std::string& title, const std::vector<std::string>& classes, json rows) {
  json spec = base(title, std::move(rows));
  const int side = std::min(420, std::max(160, 34 * static_cast<int>(classes.size())));
  spec["width"] = side;
  spec["height"] = side;
  const json x = {{"field", "predicted"}, {"type", "nominal"}, {"sort", classes}, {"title", "predicted"}};
  const json y = {{"field", "true"}, {"type", "nominal"}, {"sort", classes}, {"title", "true"}};
  spec["encoding"] = {{"x", x}, {"y", y}};
  spec["layer"] = json::array(
      {{{"mark", {{"type", "rect"}, {"tooltip", true}}},
        {"encoding",
         {{"color", {{"field", "count"}, {"type", "quantitative"}, {"scale", {{"scheme", "blues"}}}}}}}},
       {{"mark", {{"type", "text"}, {"fontSize", 10}}},
        {"encoding",
         {{"text", {{"field", "count"}, {"type", "quantitative"}}},
          {"color",
           {{"condition", {{"test", "datum.share > 0.5"}, {"value", "white"}}}, {"value", "black"}}}}}}});
  // share: the count relative to the largest, for a text colour readable on dark cells.
  spec["transform"] =
      json::array({{{"joinaggregate", json::array({{{"op", "max"}, {"field", "count"}, {"as", "most"}}})}},
                   {{"calculate", "datum.most > 0 ? datum.count / datum.most : 0"}, {"as", "share"}}});
  return spec;
}

json per_class_bars(const std::string& title, const std::vector<std::string>& classes, json rows) {
  json spec = base(title, std::move(rows));
  spec["width"] = std::min(720, std::max(kWidth, 48 * static_cast<int>(classes.size())));
  spec["mark"] = {{"type", "bar"}, {"tooltip", true}};
  spec["encoding"] = {
      {"x", {{"field", "class"}, {"type", "nominal"}, {"sort", classes}, {"title", nullptr}}},
      {"xOffset", {{"field", "score"}, {"sort", {"precision", "recall", "f1"}}}},
      {"y",
       {{"field", "value"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}, {"title", nullptr}}},
      {"color",
       {{"field", "score"},
        {"type", "nominal"},
        {"sort", {"precision", "recall", "f1"}},
        {"title", nullptr}}}};
  return spec;
}

json fold_bars(const std::string& title, const std::string& metric, json rows) {
  json spec = base(title, std::move(rows));
  spec["layer"] = json::array(
      {{{"mark", {{"type", "bar"}, {"tooltip", true}}},
        {"encoding",
         {{"x", {{"field", "fold"}, {"type", "nominal"}, {"sort", nullptr}, {"title", "fold"}}},
          {"y", {{"field", "value"}, {"type", "quantitative"}, {"title", metric}}}}}},
       {{"mark", {{"type", "rule"}, {"color", "#d62728"}, {"strokeDash", {4, 4}}}},
        {"encoding", {{"y", {{"aggregate", "mean"}, {"field", "value"}, {"type", "quantitative"}}}}}}});
  return spec;
}

json param_scatter(const std::string& param, const std::string& metric, json rows, bool numeric, bool log_x,
                   const std::vector<std::string>& order) {
  json spec = base(metric + " against " + param, std::move(rows));
  spec["width"] = 300;
  spec["height"] = 200;
  json x = {{"field", "param"}, {"type", numeric ? "quantitative" : "nominal"}, {"title", param}};
  if (numeric) x["scale"] = {{"type", log_x ? "log" : "linear"}, {"zero", false}};
  if (!numeric && !order.empty()) x["sort"] = order;
  spec["mark"] = {{"type", "point"}, {"filled", true}, {"size", 60}, {"tooltip", true}};
  spec["encoding"] = {
      {"x", x},
      {"y", {{"field", "metric"}, {"type", "quantitative"}, {"title", metric}, {"scale", {{"zero", false}}}}},
      {"tooltip", json::array({{{"field", "trial"}, {"type", "quantitative"}},
                               {{"field", "param"}, {"title", param}},
                               {{"field", "metric"}, {"type", "quantitative"}, {"title", metric}}})}};
  return spec;
}

json trial_history(const std::string& metric, json rows) {
  json spec = base(metric + " by trial", std::move(rows));
  const json x = {
      {"field", "trial"}, {"type", "quantitative"}, {"axis", {{"tickMinStep", 1}, {"format", "d"}}}};
  spec["layer"] =
      json::array({{{"mark", {{"type", "point"}, {"filled", true}, {"tooltip", true}}},
                    {"encoding",
                     {{"x", x},
                      {"y",
                       {{"field", "metric"},
                        {"type", "quantitative"},
                        {"title", metric},
                        {"scale", {{"zero", false}}}}}}}},
                   {{"mark", {{"type", "line"}, {"interpolate", "step-after"}, {"color", "#d62728"}}},
                    {"encoding", {{"x", x}, {"y", {{"field", "best"}, {"type", "quantitative"}}}}}}});
  return spec;
}

}  // namespace dlrun::report
