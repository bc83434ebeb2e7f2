// Writes the results of an activation analysis (model/analysis) to a folder:
//   report.json                    per-layer statistics, the detector's rule, options and verdict
//   tokens.jsonl                   one line per (layer, document): per-token max/median, rstd, top dims
//   first_token_heatmap.svg        layer x hidden-dim |h| of the first token (log colours)
//   first_token_top_dims.svg       the same for the massive dims and the largest dims only
//   max_magnitude.svg              per-layer max |h| (first token, other tokens, median), ME layer marked
//   sink_ratio.svg                 attention mass on the first token per layer (mean, min/max head)
//   first_token_rigidity.svg       cosine of the first token's hidden state between consecutive layers
//   rms_scale.svg                  1/rms at the input norm: first token vs other tokens
#pragma once
#include <string>
#include <vector>

#include "model/analysis/me_probe.h"
#include "model/config.h"

namespace wm::report {

struct AnalysisReportInfo {
  std::string model;         // model folder or description
  std::string prompts;       // calibration source
  std::string prompt_format; // "chat" | "raw" | "tokens"
  analysis::MeDetectorOptions detector;
};

// Returns the paths written. Creates out_dir; throws naming the file on an I/O failure.
std::vector<std::string> write_analysis_report(const std::string& out_dir, const Qwen3Config& cfg,
                                               const analysis::ProbeResult& result,
                                               const AnalysisReportInfo& info);

}  // namespace wm::report
