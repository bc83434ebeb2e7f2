// Line chart figure: one or more series over a shared x axis, optional log y axis, and marked
// x positions (a dashed vertical line with a label, e.g. "ME layer 3") and marked points.
#pragma once
#include <string>
#include <vector>

namespace wm::report {

struct LineSeries {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite y values break the line
  std::string color;         // empty: from a default palette
};

struct XMarker {
  double x = 0.0;
  std::string label;
};

struct LineChartSpec {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
  std::vector<XMarker> markers;
  bool log_y = false;      // non-positive values are skipped
  bool integer_x = false;  // only whole-number x ticks (e.g. layer indices)
  double width = 720, height = 420;
};

// Throws std::invalid_argument when a series' x and y lengths differ or nothing is plottable.
std::string line_chart_svg(const LineChartSpec& spec);

}  // namespace wm::report
