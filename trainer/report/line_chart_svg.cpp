#include "trainer/report/line_chart_svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "trainer/report/axis.h"
#include "trainer/report/svg.h"

namespace wm::report {
namespace {

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

}  // namespace

std::string line_chart_svg(const LineChartSpec& s) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& ser : s.series) {
    if (ser.x.size() != ser.y.size())
      throw std::invalid_argument("line chart '" + s.title + "': series '" + ser.name + "' has " +
                                  std::to_string(ser.x.size()) + " x and " + std::to_string(ser.y.size()) + " y values");
    for (size_t i = 0; i < ser.x.size(); ++i) {
      if (!std::isfinite(ser.x[i]) || !std::isfinite(ser.y[i]) || (s.log_y && ser.y[i] <= 0)) continue;
      xlo = std::min(xlo, ser.x[i]);
      xhi = std::max(xhi, ser.x[i]);
      ylo = std::min(ylo, ser.y[i]);
      yhi = std::max(yhi, ser.y[i]);
    }
  }
  if (!std::isfinite(xlo)) throw std::invalid_argument("line chart '" + s.title + "': nothing to plot");
  for (const auto& m : s.markers) {
    xlo = std::min(xlo, m.x);
    xhi = std::max(xhi, m.x);
  }
  if (xhi == xlo) xhi = xlo + 1;
  if (s.log_y) {
    const double l = std::floor(std::log10(ylo)), h = std::ceil(std::log10(yhi));
    ylo = std::pow(10.0, l);
    yhi = std::pow(10.0, h > l ? h : l + 1);
  } else {
    const double pad = (yhi - ylo) * 0.05 + (yhi == ylo ? std::max(1.0, std::fabs(yhi) * 0.1) : 0.0);
    ylo -= pad;
    yhi += pad;
  }

  const double left = 70, right = 20, top = 40, bottom = 50;
  const double pw = s.width - left - right, ph = s.height - top - bottom;
  Scale xs{xlo, xhi, left, left + pw, false}, ys{ylo, yhi, top + ph, top, s.log_y};
  SvgWriter svg(s.width, s.height);
  svg.text(s.width / 2, 22, s.title, 14, "middle", "font-weight=\"bold\"");
  svg.rect(left, top, pw, ph, "none", "stroke=\"#333\"");
  for (double t : ticks(xlo, xhi, false, 10)) {
    if (s.integer_x && t != std::floor(t)) continue;
    svg.line(xs(t), top + ph, xs(t), top + ph + 4, "#333");
    svg.text(xs(t), top + ph + 16, tick_label(t), 10, "middle");
  }
  for (double t : ticks(ylo, yhi, s.log_y, 6)) {
    svg.line(left, ys(t), left + pw, ys(t), "#e5e5e5");
    svg.text(left - 6, ys(t) + 4, tick_label(t), 10, "end");
  }
  svg.text(left + pw / 2, s.height - 12, s.x_label, 12, "middle");
  svg.text(16, top + ph / 2, s.y_label + (s.log_y ? " (log)" : ""), 12, "middle",
           "transform=\"rotate(-90 16 " + svg_number(top + ph / 2) + ")\"");

  for (const auto& m : s.markers) {
    svg.line(xs(m.x), top, xs(m.x), top + ph, "#d62728", 1.5, "stroke-dasharray=\"5,4\" class=\"marker\"");
    svg.text(xs(m.x) + 4, top + 14, m.label, 11, "start", "fill=\"#d62728\" class=\"marker-label\"");
  }
  for (size_t k = 0; k < s.series.size(); ++k) {
    const auto& ser = s.series[k];
    const std::string color = ser.color.empty() ? kPalette[k % std::size(kPalette)] : ser.color;
    std::string points;
    auto flush = [&] {
      if (!points.empty()) svg.polyline(points, color);
      points.clear();
    };
    for (size_t i = 0; i < ser.x.size(); ++i) {
      if (!std::isfinite(ser.y[i]) || (s.log_y && ser.y[i] <= 0)) {
        flush();
        continue;
      }
      points += svg_number(xs(ser.x[i])) + "," + svg_number(ys(ser.y[i])) + " ";
      if (ser.x.size() <= 64) svg.circle(xs(ser.x[i]), ys(ser.y[i]), 2.5, color);
    }
    flush();
    svg.line(left + pw - 150, top + 14 + 16 * k, left + pw - 130, top + 14 + 16 * k, color, 2);
    svg.text(left + pw - 125, top + 18 + 16 * k, ser.name, 11);
  }
  return svg.str();
}

}  // namespace wm::report
