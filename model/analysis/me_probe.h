// Runs a Qwen3Model on calibration documents with the per-layer observer attached, accumulates
// the activation statistics and detects the ME layer (the `me_layer: auto` path of the trainer
// and the core of `wemask analyze`).
//
// The model runs as configured: if its WeMask is enabled, the statistics are those of the masked
// model (analyse the unmasked model to find the ME layer).
#pragma once
#include <cstdint>
#include <vector>

#include "model/analysis/layer_stats.h"
#include "model/analysis/me_detector.h"
#include "model/qwen3.h"

namespace wm::analysis {

struct ProbeOptions {
  StatsOptions stats;
  MeDetectorOptions detector;
  int64_t max_tokens_per_forward = 2048;  // documents are packed into forwards of at most this
  bool attention_sink = true;             // also compute the attention-sink ratio (copies q, k)
};

struct ProbeResult {
  std::vector<LayerStats> layers;
  MeDetection detection;
};

// Each document (>= 2 token ids, each inside the vocabulary) is its own attention document.
// Throws std::invalid_argument naming the document for bad input. The model's observer is
// replaced during the call and cleared afterwards.
ProbeResult analyze_activations(Qwen3Model& model, const std::vector<std::vector<int32_t>>& documents,
                                const ProbeOptions& options = {});

// `me_layer: auto`: the detection over `documents`. Throws std::runtime_error carrying the
// detector's reason when no ME layer is found.
MeDetection detect_me_layer(Qwen3Model& model, const std::vector<std::vector<int32_t>>& documents,
                            const MeDetectorOptions& options = {});

// Host F32 copy of any float tensor (CPU or CUDA; F32, F64, BF16 or F16).
std::vector<float> host_f32(const Tensor& t);

}  // namespace wm::analysis
