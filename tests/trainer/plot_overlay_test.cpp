// `wemask plot A B ...`: several runs overlaid (used for the 1-GPU vs 2-GPU loss curves).
#include <gtest/gtest.h>

#include <stdexcept>

#include "trainer/metrics/metrics_plot.h"

namespace wm {
namespace {

std::vector<nlohmann::json> run(double offset) {
  std::vector<nlohmann::json> r;
  for (int s = 1; s <= 5; ++s) r.push_back({{"step", s}, {"loss", 3.0 - 0.1 * s + offset}, {"grad_norm", 1.0 + offset}});
  return r;
}

TEST(PlotOverlay, OneLinePerRunAndLabelsShown) {
  const std::string svg = metrics_overlay_svg({{"one GPU", run(0)}, {"two GPUs", run(0.01)}}, "dp");
  EXPECT_NE(svg.find("one GPU"), std::string::npos);
  EXPECT_NE(svg.find("two GPUs"), std::string::npos);
  EXPECT_NE(svg.find("dp — training loss"), std::string::npos);
  EXPECT_NE(svg.find("gradient norm"), std::string::npos);
  int lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 4);  // 2 runs x (loss, grad norm)
}

TEST(PlotOverlay, ARunWithoutLossIsAnError) {
  std::vector<nlohmann::json> empty{{{"step", 1}, {"lr", 0.1}}};
  EXPECT_THROW(metrics_overlay_svg({{"ok", run(0)}, {"broken", empty}}, "dp"), std::invalid_argument);
}

}  // namespace
}  // namespace wm
