// Heat map figure (rows x columns of non-negative values) with a colour bar, optional log colour
// scale, axis labels, and highlighted rows/columns (e.g. the ME layer and the massive dims).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wm::report {

struct HeatmapSpec {
  std::string title, x_label, y_label, value_label;
  int64_t rows = 0, cols = 0;
  std::vector<double> values;             // [rows, cols], row-major
  std::vector<std::string> row_names;     // optional, one per row (default: the row index)
  std::vector<std::string> col_names;     // optional, one per column (default: the column index)
  bool log_scale = false;                 // log10 colours; values <= 0 get the lowest colour
  std::vector<int64_t> highlight_rows;    // outlined and labelled in red
  std::vector<int64_t> highlight_cols;    // ticked and labelled in red
  int64_t max_columns = 1024;             // wider maps show the max over groups of columns
  double width = 900, height = 0;         // 0: from the row count
};

// Throws std::invalid_argument when values.size() != rows * cols or names have the wrong count.
std::string heatmap_svg(const HeatmapSpec& spec);

}  // namespace wm::report
