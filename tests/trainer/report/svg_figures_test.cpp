#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "trainer/report/axis.h"
#include "trainer/report/heatmap_svg.h"
#include "trainer/report/line_chart_svg.h"
#include "trainer/report/svg.h"

namespace wm::report {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(SvgFigures, EscapesTextAndFormatsNumbers) {
  EXPECT_EQ(svg_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
  EXPECT_EQ(svg_number(1.500), "1.5");
  EXPECT_EQ(svg_number(-0.001), "0");
  EXPECT_EQ(svg_number(12.0), "12");
}

TEST(SvgFigures, ScalesTicksAndColours) {
  Scale lin{0, 10, 100, 200, false};
  EXPECT_DOUBLE_EQ(lin(5), 150);
  EXPECT_DOUBLE_EQ(lin(20), 200);  // clamped
  Scale lg{1, 1000, 0, 3, true};
  EXPECT_NEAR(lg(10), 1.0, 1e-12);
  EXPECT_EQ(ticks(1, 1000, true), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(ticks(0, 1, false, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(color_map(0), "#440154");
  EXPECT_EQ(color_map(1), "#fde725");
  EXPECT_NE(color_map(0.5), color_map(0.6));
}

TEST(SvgFigures, HeatmapDrawsEveryCellAndHighlights) {
  HeatmapSpec h;
  h.title = "first token |h|";
  h.x_label = "hidden dim";
  h.y_label = "layer";
  h.value_label = "|h|";
  h.rows = 4;
  h.cols = 20;
  h.values.assign(80, 1.0);
  h.values[2 * 20 + 17] = 1000.0;
  h.values[2 * 20 + 3] = 500.0;
  h.log_scale = true;
  h.highlight_rows = {2};
  h.highlight_cols = {3, 17};
  const std::string svg = heatmap_svg(h);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // 80 cells + 64 colour-bar steps + background + the outline of the highlighted row
  EXPECT_EQ(count(svg, "<rect"), 80u + 64u + 1u + 1u);
  EXPECT_NE(svg.find("class=\"highlight-col\">3<"), std::string::npos);
  EXPECT_NE(svg.find("class=\"highlight-col\">17<"), std::string::npos);
  EXPECT_NE(svg.find("class=\"highlight-row\">2<"), std::string::npos);
  EXPECT_NE(svg.find("|h| (log)"), std::string::npos);
  // the largest cell gets the top colour, the smallest the bottom one
  EXPECT_NE(svg.find("fill=\"#fde725\""), std::string::npos);
  EXPECT_EQ(count(svg, "fill=\"#440154\""), 78u);  // the 78 cells of value 1
}

TEST(SvgFigures, WideHeatmapGroupsColumnsByMax) {
  HeatmapSpec h;
  h.rows = 2;
  h.cols = 100;
  h.values.assign(200, 0.0);
  h.values[57] = 9.0;
  h.max_columns = 10;
  h.highlight_cols = {57};
  const std::string svg = heatmap_svg(h);
  EXPECT_EQ(count(svg, "<rect"), 20u + 64u + 1u);
  EXPECT_NE(svg.find("max over 10"), std::string::npos);
  EXPECT_NE(svg.find("class=\"highlight-col\">57<"), std::string::npos);
  EXPECT_EQ(count(svg, "fill=\"#fde725\""), 1u);  // only the group holding dim 57
}

TEST(SvgFigures, HeatmapRejectsBadShapes) {
  HeatmapSpec h;
  h.rows = 2;
  h.cols = 3;
  h.values.assign(5, 1.0);
  EXPECT_THROW(heatmap_svg(h), std::invalid_argument);
  h.values.assign(6, 1.0);
  h.row_names = {"a"};
  EXPECT_THROW(heatmap_svg(h), std::invalid_argument);
}

TEST(SvgFigures, LineChartWithMarkerAndLogAxis) {
  LineChartSpec c;
  c.title = "max |h|";
  c.x_label = "layer";
  c.y_label = "max |h|";
  c.log_y = true;
  c.series = {{"first token", {0, 1, 2, 3}, {1, 2, 1000, 1100}, ""},
              {"other tokens", {0, 1, 2, 3}, {1, 0, 2, 3}, ""}};  // the 0 breaks the line on a log axis
  c.markers = {{2, "ME layer 2"}};
  const std::string svg = line_chart_svg(c);
  EXPECT_NE(svg.find("class=\"marker-label\">ME layer 2<"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "<circle"), 7u);
  EXPECT_NE(svg.find(">10000<"), std::string::npos);  // upper decade of 1100
  EXPECT_NE(svg.find("max |h| (log)"), std::string::npos);
  EXPECT_NE(svg.find(">0.5<"), std::string::npos);
  c.integer_x = true;
  const std::string whole = line_chart_svg(c);
  EXPECT_EQ(whole.find(">0.5<"), std::string::npos);
  EXPECT_NE(whole.find(">3<"), std::string::npos);
}

TEST(SvgFigures, LineChartRejectsBadSeries) {
  LineChartSpec c;
  c.series = {{"a", {0, 1}, {1}, ""}};
  EXPECT_THROW(line_chart_svg(c), std::invalid_argument);
  c.series = {{"a", {0}, {NAN}, ""}};
  EXPECT_THROW(line_chart_svg(c), std::invalid_argument);
}

}  // namespace
}  // namespace wm::report
