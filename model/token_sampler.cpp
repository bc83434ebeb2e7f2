#include "model/token_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace wm {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

SequenceRng::SequenceRng(uint64_t seed, uint64_t index) : engine_(splitmix64(splitmix64(seed) ^ index)) {}

float SequenceRng::uniform() { return static_cast<float>(engine_() >> 40) * (1.0f / 16777216.0f); }

SampledToken sample_truncated(std::span<const float> logits, double temperature, int64_t top_k, double top_p,
                              float u) {
  if (logits.empty()) throw std::invalid_argument("sample_truncated: empty logits");
  if (!(temperature > 0.0)) throw std::invalid_argument("sample_truncated: temperature must be > 0");
  const size_t V = logits.size();
  double m = -INFINITY;
  for (float x : logits) m = std::max(m, x / temperature);
  std::vector<double> p(V);
  double total = 0.0;
  for (size_t i = 0; i < V; ++i) total += p[i] = std::exp(logits[i] / temperature - m);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  const size_t k = top_k > 0 ? std::min(V, static_cast<size_t>(top_k)) : V;
  auto more_likely = [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), more_likely);
  double top_mass = 0.0;
  for (size_t i = 0; i < k; ++i) top_mass += p[order[i]];
  size_t keep = 0;
  double mass = 0.0;
  while (keep < k && (keep == 0 || mass < top_p * top_mass)) mass += p[order[keep++]];
  double target = static_cast<double>(u) * mass;
  int32_t id = order[keep - 1];
  for (size_t i = 0; i < keep; ++i) {
    target -= p[order[i]];
    if (target < 0.0) { id = order[i]; break; }
  }
  return {id, static_cast<float>(logits[id] / temperature - m - std::log(total))};
}

}  // namespace wm
