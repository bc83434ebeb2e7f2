// Detection of the Massive Emergence (ME) layer: the decoder layer whose FFN first writes massive
// activations into the residual stream, and the hidden dims where it writes them.
//
// The rule (all constants in MeDetectorOptions). At layer l, a token of a document "qualifies" when
// its largest output dim j (largest |output[t, j]|) satisfies all of:
//   (a) |output[t, j]| >= min_ratio_to_median * median_l     median_l: median of |output| over all
//                                                          tokens and dims of that document at l
//   (b) |output[t, j]| >= min_growth_over_input * |input[t, j]|   (it was not there before l)
//   (c) |ffn[t, j]|    >= min_ffn_share * |output[t, j]|          (the FFN wrote it, not attention)
// The ME layer is the first layer at which at least min_document_fraction of the observed
// documents have a qualifying token (only position 0 when first_token_only).
// The massive dims are the dims, among the top-k of the qualifying tokens at the ME layer, that
// satisfy (a)-(c) themselves in at least min_dim_support of those tokens; they are ordered by mean
// |output|, largest first, and at most max_massive_dims are kept.
// When no layer qualifies the result says so (found = false) with the closest layer's numbers.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/analysis/layer_stats.h"

namespace wm::analysis {

struct MeDetectorOptions {
  double min_ratio_to_median = 100.0;
  double min_growth_over_input = 10.0;
  double min_ffn_share = 0.5;
  double min_document_fraction = 0.5;
  double min_dim_support = 0.5;
  int max_massive_dims = 8;
  bool first_token_only = false;
};

// What the rule saw at one layer (the strongest top dim over its tokens).
struct MeLayerDiagnostics {
  int layer = 0;
  int64_t documents = 0;             // documents observed
  int64_t qualifying_documents = 0;  // documents with at least one qualifying token
  double best_ratio_to_median = 0.0; // max over tokens of |top| / median_l
  double best_growth = 0.0;          // |top| / |input| of that same token
  double best_ffn_share = 0.0;       // |ffn| / |top| of that same token
  int64_t best_dim = -1;
  int64_t best_position = -1;
};

struct MassiveDim {
  int64_t dim = 0;
  double mean_abs = 0.0;  // mean |output| at the ME layer over the tokens where it qualified
  int64_t support = 0;    // qualifying tokens in which it qualified
};

struct MeDetection {
  bool found = false;
  int me_layer = -1;
  std::vector<MassiveDim> massive_dims;
  std::vector<int64_t> positions;  // distinct token positions that qualified at the ME layer
  std::string reason;              // one human-readable sentence
  std::vector<MeLayerDiagnostics> per_layer;

  std::vector<int64_t> dims() const;
};

// Pure function of the stats (needs the token records). Throws std::invalid_argument on options
// out of range or stats without token records.
MeDetection detect_me_layer(std::span<const LayerStats> layers, const MeDetectorOptions& options = {});

void validate(const MeDetectorOptions& options);

}  // namespace wm::analysis
