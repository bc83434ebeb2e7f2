#include "trainer/report/heatmap_svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "trainer/report/axis.h"
#include "trainer/report/svg.h"

namespace wm::report {

std::string heatmap_svg(const HeatmapSpec& s) {
  if (s.rows <= 0 || s.cols <= 0 || static_cast<int64_t>(s.values.size()) != s.rows * s.cols)
    throw std::invalid_argument("heatmap '" + s.title + "': " + std::to_string(s.values.size()) +
                                " values for " + std::to_string(s.rows) + " x " + std::to_string(s.cols));
  if (!s.row_names.empty() && static_cast<int64_t>(s.row_names.size()) != s.rows)
    throw std::invalid_argument("heatmap '" + s.title + "': row_names has the wrong length");
  if (!s.col_names.empty() && static_cast<int64_t>(s.col_names.size()) != s.cols)
    throw std::invalid_argument("heatmap '" + s.title + "': col_names has the wrong length");

  // Columns are grouped when there are more than max_columns (max over each group).
  const int64_t group = std::max<int64_t>(1, (s.cols + std::max<int64_t>(1, s.max_columns) - 1) /
                                                 std::max<int64_t>(1, s.max_columns));
  const int64_t shown = (s.cols + group - 1) / group;
  std::vector<double> cell(static_cast<size_t>(s.rows * shown), -std::numeric_limits<double>::infinity());
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < s.cols; ++c) {
      double& v = cell[r * shown + c / group];
      v = std::max(v, s.values[r * s.cols + c]);
    }

  double hi = 0.0, lo_pos = std::numeric_limits<double>::infinity(), lo = std::numeric_limits<double>::infinity();
  for (double v : cell) {
    if (!std::isfinite(v)) continue;
    hi = std::max(hi, v);
    lo = std::min(lo, v);
    if (v > 0) lo_pos = std::min(lo_pos, v);
  }
  if (!std::isfinite(lo)) lo = 0.0;
  Scale color;
  color.log = s.log_scale && std::isfinite(lo_pos);
  color.lo = color.log ? std::max(lo_pos, hi * 1e-6) : std::min(lo, 0.0);
  color.hi = hi > color.lo ? hi : color.lo + 1.0;

  const double left = 70, right = 110, top = 40, bottom = 60;
  const double height = s.height > 0 ? s.height : std::clamp(top + bottom + 16.0 * s.rows, 260.0, 900.0);
  const double pw = s.width - left - right, ph = height - top - bottom;
  const double cw = pw / shown, ch = ph / s.rows;
  SvgWriter svg(s.width, height);
  svg.text(s.width / 2, 22, s.title, 14, "middle", "font-weight=\"bold\"");

  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < shown; ++c) {
      const double v = cell[r * shown + c];
      // cells slightly overlap to avoid hairline gaps in viewers
      svg.rect(left + c * cw, top + r * ch, cw + 0.3, ch + 0.3, color_map(color.unit(v)));
    }

  // row labels (every row when they fit, else about 30)
  const int64_t row_step = std::max<int64_t>(1, s.rows / 30);
  auto row_name = [&](int64_t r) { return s.row_names.empty() ? std::to_string(r) : s.row_names[r]; };
  auto col_name = [&](int64_t c) { return s.col_names.empty() ? std::to_string(c) : s.col_names[c]; };
  for (int64_t r = 0; r < s.rows; ++r) {
    const bool hl = std::find(s.highlight_rows.begin(), s.highlight_rows.end(), r) != s.highlight_rows.end();
    if (r % row_step != 0 && !hl) continue;
    svg.text(left - 6, top + (r + 0.5) * ch + 4, row_name(r), 10, "end",
             hl ? "fill=\"#d62728\" font-weight=\"bold\" class=\"highlight-row\"" : "");
    if (hl)
      svg.rect(left, top + r * ch, pw, ch, "none", "stroke=\"#d62728\" stroke-width=\"2\"");
  }
  // column ticks: about 10 evenly spaced, plus the highlighted ones
  const int64_t col_step = std::max<int64_t>(1, s.cols / 10);
  for (int64_t c = 0; c < s.cols; c += col_step) {
    const double x = left + (c / group + 0.5) * cw;
    svg.line(x, top + ph, x, top + ph + 4, "#333");
    svg.text(x, top + ph + 15, col_name(c), 10, "middle");
  }
  for (int64_t c : s.highlight_cols) {
    if (c < 0 || c >= s.cols) continue;
    const double x = left + (c / group + 0.5) * cw;
    svg.line(x, top - 6, x, top, "#d62728", 2);
    svg.line(x, top + ph, x, top + ph + 8, "#d62728", 2);
    svg.text(x, top + ph + 27, col_name(c), 10, "middle", "fill=\"#d62728\" font-weight=\"bold\" class=\"highlight-col\"");
  }
  std::string x_label = s.x_label;
  if (group > 1) x_label += " (each column: max over " + std::to_string(group) + ")";
  svg.text(left + pw / 2, height - 12, x_label, 12, "middle");
  svg.text(16, top + ph / 2, s.y_label, 12, "middle",
           "transform=\"rotate(-90 16 " + svg_number(top + ph / 2) + ")\"");

  // colour bar
  const double bx = left + pw + 20, bw = 16;
  const int steps = 64;
  for (int i = 0; i < steps; ++i)
    svg.rect(bx, top + ph * (1.0 - double(i + 1) / steps), bw, ph / steps + 0.3, color_map((i + 0.5) / steps));
  Scale bar = color;
  bar.p0 = top + ph;
  bar.p1 = top;
  for (double t : ticks(color.lo, color.hi, color.log, 5)) {
    svg.line(bx + bw, bar(t), bx + bw + 4, bar(t), "#333");
    svg.text(bx + bw + 6, bar(t) + 4, tick_label(t), 10);
  }
  std::string vlabel = s.value_label + (color.log ? " (log)" : "");
  const double vx = bx + bw + 48;
  svg.text(vx, top + ph / 2, vlabel, 11, "middle", "transform=\"rotate(90 " + svg_number(vx) + " " + svg_number(top + ph / 2) + ")\"");
  return svg.str();
}

}  // namespace wm::report
