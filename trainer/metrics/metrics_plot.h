// Training curves from a metrics JSONL: loss (train and eval), learning rate and grad norm,
// stacked as three line charts (trainer/report/line_chart_svg.h) in one SVG document.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wm {

// Records without a "step" are ignored; when a step appears twice (a resumed run re-logging it)
// the later record wins. Throws std::invalid_argument when no record has a loss.
std::string metrics_svg(const std::vector<nlohmann::json>& records, const std::string& title);

// Several runs overlaid (e.g. 1 GPU vs 2 GPUs): the training loss of each run on one chart, and
// the grad norm of each on a second. runs: (label, records). Throws when a run has no loss.
std::string metrics_overlay_svg(const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& runs,
                                const std::string& title);

}  // namespace wm
