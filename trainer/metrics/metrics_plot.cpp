#include "trainer/metrics/metrics_plot.h"

#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "trainer/report/line_chart_svg.h"
#include "trainer/report/svg.h"

namespace wm {

namespace {

// (step -> value) of one key; the last record of a step wins.
report::LineSeries series_of(const std::vector<nlohmann::json>& records, const std::string& key,
                             const std::string& name) {
  std::map<double, double> by_step;
  for (const auto& r : records) {
    if (!r.contains("step") || !r["step"].is_number() || !r.contains(key)) continue;
    const auto& v = r[key];
    by_step[r["step"].get<double>()] = v.is_number() ? v.get<double>() : NAN;
  }
  report::LineSeries s;
  s.name = name;
  for (const auto& [x, y] : by_step) {
    s.x.push_back(x);
    s.y.push_back(y);
  }
  return s;
}

}  // namespace

std::string metrics_svg(const std::vector<nlohmann::json>& records, const std::string& title) {
  const double width = 760, height = 320;
  struct Panel {
    std::string title, y_label;
    std::vector<report::LineSeries> series;
  };
  std::vector<Panel> panels;
  Panel loss{title + " — loss", "loss", {}};
  if (auto s = series_of(records, "loss", "train"); !s.x.empty()) loss.series.push_back(s);
  if (auto s = series_of(records, "eval_loss", "eval"); !s.x.empty()) loss.series.push_back(s);
  if (loss.series.empty() || loss.series.front().name != "train")
    throw std::invalid_argument("metrics: no record has a step and a loss");
  panels.push_back(std::move(loss));
  if (auto s = series_of(records, "lr", "lr"); !s.x.empty()) panels.push_back({"learning rate", "lr", {s}});
  if (auto s = series_of(records, "grad_norm", "grad norm (before clipping)"); !s.x.empty())
    panels.push_back({"gradient norm", "grad norm", {s}});

  std::string body;
  double y = 0;
  for (const auto& p : panels) {
    report::LineChartSpec spec;
    spec.title = p.title;
    spec.x_label = "step";
    spec.y_label = p.y_label;
    spec.series = p.series;
    spec.width = width;
    spec.height = height;
    body += fmt::format("<g transform=\"translate(0,{})\">\n{}</g>\n", report::svg_number(y),
                        report::line_chart_svg(spec));
    y += height;
  }
  report::SvgWriter doc(width, y);
  doc.raw(body);
  return doc.str();
}

std::string metrics_overlay_svg(const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& runs,
                                const std::string& title) {
  const double width = 760, height = 360;
  report::LineChartSpec loss, norm;
  loss.title = title + " — training loss";
  loss.y_label = "loss";
  norm.title = "gradient norm (before clipping)";
  norm.y_label = "grad norm";
  for (auto* spec : {&loss, &norm}) {
    spec->x_label = "step";
    spec->width = width;
    spec->height = height;
  }
  for (const auto& [label, records] : runs) {
    auto s = series_of(records, "loss", label);
    if (s.x.empty()) throw std::invalid_argument("metrics of run '" + label + "': no record has a step and a loss");
    loss.series.push_back(std::move(s));
    if (auto g = series_of(records, "grad_norm", label); !g.x.empty()) norm.series.push_back(std::move(g));
  }
  std::string body = report::line_chart_svg(loss);
  double y = height;
  if (!norm.series.empty()) {
    body += fmt::format("<g transform=\"translate(0,{})\">\n{}</g>\n", report::svg_number(y), report::line_chart_svg(norm));
    y += height;
  }
  report::SvgWriter doc(width, y);
  doc.raw(body);
  return doc.str();
}

}  // namespace wm
