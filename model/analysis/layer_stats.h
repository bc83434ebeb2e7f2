// Per-layer activation statistics for massive-activation analysis, accumulated over the
// documents of many forward passes. Fed by LayerObservation (host F32 copies).
//
// "First token" means position 0 of each document (the attention sink). Per-dimension means are
// means of |value| over documents (first token) or over the other tokens.
#pragma once
#include <cstdint>
#include <vector>

#include "model/analysis/layer_observation.h"

namespace wm::analysis {

// One dimension of a token's top-k, with the signed values at that dimension.
struct TokenPeak {
  int64_t dim = 0;
  float out = 0.0f;  // layer output (residual stream after the layer)
  float in = 0.0f;   // layer input
  float ffn = 0.0f;  // FFN output of this layer
};

// A token at one layer.
struct TokenRecord {
  int64_t document = 0;  // index among all observed documents (same at every layer)
  int64_t position = 0;  // position within its document, 0 = first token
  int32_t token_id = -1;
  float max_abs = 0.0f;     // max |output| over dims
  float median_abs = 0.0f;  // median |output| over dims
  float input_rstd = 0.0f, post_attn_rstd = 0.0f;
  float ffn_max_abs = 0.0f, ffn_rms = 0.0f;
  std::vector<TokenPeak> top;  // top-k dims by |output|, largest first
  float max_median_ratio() const { return median_abs > 0 ? max_abs / median_abs : 0.0f; }
};

struct LayerStats {
  int layer = 0;
  int64_t hidden = 0;
  int64_t documents = 0;
  int64_t tokens = 0;

  std::vector<double> first_out_abs;  // [d] mean over documents of |output[first, j]|
  std::vector<double> first_in_abs;   // [d] mean over documents of |input[first, j]|
  std::vector<double> first_ffn_abs;  // [d] mean over documents of |ffn[first, j]|
  std::vector<double> rest_out_abs;   // [d] mean over non-first tokens of |output[t, j]|
  int64_t rest_tokens = 0;

  // Per document: median of |output| over all its tokens and dims (the layer's typical scale).
  std::vector<float> document_median;

  double first_cosine_sum = 0.0;  // cos(input[first], output[first]) = rigidity vs previous layer
  double first_input_rstd_sum = 0.0, first_post_attn_rstd_sum = 0.0;
  double rest_input_rstd_sum = 0.0, rest_post_attn_rstd_sum = 0.0;
  double first_ffn_rms_sum = 0.0, rest_ffn_rms_sum = 0.0;
  double first_ratio_sum = 0.0, rest_ratio_sum = 0.0, rest_ratio_max = 0.0;

  std::vector<double> sink_mass_sum;  // [Hq]; empty when no attention was observed
  int64_t sink_queries = 0;

  std::vector<TokenRecord> records;  // every observed token (when kept)

  // Derived means (0 when nothing was counted).
  double median_abs() const;           // mean of document_median
  double first_max_abs() const;        // max_j first_out_abs[j]
  double first_cosine() const;
  double first_input_rstd() const, first_post_attn_rstd() const;
  double rest_input_rstd() const, rest_post_attn_rstd() const;
  double first_ffn_rms() const, rest_ffn_rms() const;
  double first_max_median_ratio() const, rest_max_median_ratio() const;
  std::vector<double> sink_ratio_per_head() const;
  double sink_ratio() const;  // mean over heads; NaN when no attention was observed
  // The k largest dims of first_out_abs, largest first.
  std::vector<int64_t> first_top_dims(int k) const;
};

struct StatsOptions {
  int top_k = 8;                    // dims kept per token record
  bool keep_token_records = true;   // the ME detector needs them
};

class ActivationStatsAccumulator {
 public:
  ActivationStatsAccumulator(int num_layers, int64_t hidden, StatsOptions options = {});

  // Adds one layer of one forward. Every layer must see the same documents in the same order.
  // Throws std::invalid_argument naming the layer and the tensor on a size mismatch.
  void observe(const LayerObservation& obs);

  const std::vector<LayerStats>& layers() const { return layers_; }
  int64_t hidden() const { return hidden_; }

 private:
  int64_t hidden_;
  StatsOptions options_;
  std::vector<LayerStats> layers_;
};

}  // namespace wm::analysis
