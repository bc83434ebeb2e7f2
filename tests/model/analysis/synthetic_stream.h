// A synthetic residual stream for analysis tests: per layer, input/output/ffn [T, d] with small
// random values, where chosen layers' FFN can plant values into chosen (token, dim) entries.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "model/analysis/layer_observation.h"
#include "model/analysis/layer_stats.h"

namespace wm::analysis::testing {

struct Plant {
  int layer;         // the layer whose FFN writes it
  int64_t position;  // token position in each document
  int64_t dim;
  float value;
  bool via_attention = false;  // written before the FFN (attention path) instead
  int documents = -1;          // plant only in the first n documents (-1 = all)
};

struct SyntheticStream {
  int layers = 6;
  int64_t hidden = 32;
  int64_t doc_len = 5;
  int documents = 4;
  float embed_value_at_dim = 0.0f;  // if nonzero: first token's embedding at dim 5 (pre-existing)
  std::vector<Plant> plants;

  // Runs every document as its own forward into acc.
  void feed(ActivationStatsAccumulator& acc, unsigned seed = 7) const {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int doc = 0; doc < documents; ++doc) {
      const int64_t T = doc_len, d = hidden;
      std::vector<float> x(T * d);
      for (auto& v : x) v = u(rng);
      if (embed_value_at_dim != 0.0f) x[5] = embed_value_at_dim;
      for (int l = 0; l < layers; ++l) {
        std::vector<float> in = x, ffn(T * d), out(T * d), rstd_in(T), rstd_post(T);
        for (auto& v : ffn) v = 0.1f * u(rng);
        std::vector<float> mid = in;
        for (auto& v : mid) v += 0.1f * u(rng);  // attention contribution
        for (const Plant& p : plants) {
          if (p.layer != l || (p.documents >= 0 && doc >= p.documents)) continue;
          (p.via_attention ? mid : ffn)[p.position * d + p.dim] += p.value;
        }
        for (int64_t i = 0; i < T * d; ++i) out[i] = mid[i] + ffn[i];
        for (int64_t t = 0; t < T; ++t) {
          double si = 0, sm = 0;
          for (int64_t j = 0; j < d; ++j) {
            si += double(in[t * d + j]) * in[t * d + j];
            sm += double(mid[t * d + j]) * mid[t * d + j];
          }
          rstd_in[t] = static_cast<float>(1.0 / std::sqrt(si / d + 1e-6));
          rstd_post[t] = static_cast<float>(1.0 / std::sqrt(sm / d + 1e-6));
        }
        LayerObservation obs;
        obs.layer = l;
        obs.tokens = T;
        obs.hidden = d;
        obs.input = in;
        obs.output = out;
        obs.mlp_out = ffn;
        obs.input_rstd = rstd_in;
        obs.post_attn_rstd = rstd_post;
        acc.observe(obs);
        x = out;
      }
    }
  }

  std::vector<LayerStats> stats(unsigned seed = 7) const {
    ActivationStatsAccumulator acc(layers, hidden);
    feed(acc, seed);
    return acc.layers();
  }
};

}  // namespace wm::analysis::testing
