#include "model/analysis/attention_sink.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace wm::analysis {
namespace {

void expect_size(const LayerObservation& obs, const char* what, size_t got, int64_t want) {
  if (static_cast<int64_t>(got) != want)
    throw std::invalid_argument("attention sink, layer " + std::to_string(obs.layer) + ": " + what +
                                " has " + std::to_string(got) + " values, expected " +
                                std::to_string(want));
}

}  // namespace

SinkMass attention_sink_mass(const LayerObservation& obs) {
  const int64_t T = obs.tokens, H = obs.q_heads, Hkv = obs.kv_heads, D = obs.head_dim;
  if (H <= 0 || Hkv <= 0 || D <= 0 || H % Hkv != 0)
    throw std::invalid_argument("attention sink, layer " + std::to_string(obs.layer) +
                                ": bad head counts (q_heads " + std::to_string(H) + ", kv_heads " +
                                std::to_string(Hkv) + ", head_dim " + std::to_string(D) + ")");
  expect_size(obs, "q", obs.q.size(), T * H * D);
  expect_size(obs, "k", obs.k.size(), T * Hkv * D);
  expect_size(obs, "lse", obs.lse.size(), H * T);
  if (!obs.doc_start.empty()) expect_size(obs, "doc_start", obs.doc_start.size(), T);

  SinkMass mass;
  mass.sum_per_head.assign(static_cast<size_t>(H), 0.0);
  const int64_t group = H / Hkv;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t first = obs.doc_start.empty() ? 0 : obs.doc_start[t];
    if (first < 0 || first > t)
      throw std::invalid_argument("attention sink, layer " + std::to_string(obs.layer) +
                                  ": doc_start[" + std::to_string(t) + "] = " +
                                  std::to_string(first) + " is not in [0, t]");
    if (first == t) continue;
    ++mass.queries;
    for (int64_t h = 0; h < H; ++h) {
      const float* q = obs.q.data() + (t * H + h) * D;
      const float* k = obs.k.data() + (first * Hkv + h / group) * D;
      float dot = 0.0f;
      for (int64_t i = 0; i < D; ++i) dot += q[i] * k[i];
      const float logit = obs.attn_scale * dot - obs.lse[h * T + t];
      mass.sum_per_head[h] += std::exp(logit);
    }
  }
  return mass;
}

}  // namespace wm::analysis
