#include "model/analysis/attention_sink.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace wm::analysis {
namespace {

// Brute-force causal softmax with packed documents; returns lse [H, T] and p(t -> first) [H, T].
void reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<int32_t>& doc,
               int64_t T, int64_t H, int64_t Hkv, int64_t D, float scale, std::vector<float>& lse,
               std::vector<double>& p_first) {
  lse.assign(H * T, 0.0f);
  p_first.assign(H * T, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> s;
      for (int64_t j = doc[t]; j <= t; ++j) {
        double dot = 0;
        for (int64_t i = 0; i < D; ++i) dot += q[(t * H + h) * D + i] * k[(j * Hkv + h / (H / Hkv)) * D + i];
        s.push_back(scale * dot);
      }
      double m = *std::max_element(s.begin(), s.end()), z = 0;
      for (double v : s) z += std::exp(v - m);
      lse[h * T + t] = static_cast<float>(m + std::log(z));
      p_first[h * T + t] = std::exp(s[0] - m) / z;
    }
}

TEST(AttentionSink, MatchesBruteForceSoftmaxWithPackedDocumentsAndGqa) {
  const int64_t T = 7, H = 4, Hkv = 2, D = 8;
  const float scale = 1.0f / std::sqrt(float(D));
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> q(T * H * D), k(T * Hkv * D);
  for (auto& v : q) v = n(rng);
  for (auto& v : k) v = n(rng);
  // make kv-head 1's first key attractive to get a visible sink in heads 2 and 3
  for (int64_t i = 0; i < D; ++i) k[(0 * Hkv + 1) * D + i] = 0.0f;
  const std::vector<int32_t> doc = {0, 0, 0, 0, 4, 4, 4};
  std::vector<float> lse;
  std::vector<double> p;
  reference(q, k, doc, T, H, Hkv, D, scale, lse, p);

  LayerObservation obs;
  obs.layer = 5;
  obs.tokens = T;
  obs.q_heads = H;
  obs.kv_heads = Hkv;
  obs.head_dim = D;
  obs.attn_scale = scale;
  obs.q = q;
  obs.k = k;
  obs.lse = lse;
  obs.doc_start = doc;
  const SinkMass m = attention_sink_mass(obs);
  EXPECT_EQ(m.queries, 5);  // rows 0 and 4 start documents
  for (int64_t h = 0; h < H; ++h) {
    double want = 0;
    for (int64_t t = 0; t < T; ++t)
      if (doc[t] != t) want += p[h * T + t];
    EXPECT_NEAR(m.sum_per_head[h], want, 1e-5) << "head " << h;
  }
}

TEST(AttentionSink, AllMassOnFirstTokenGivesRatioOne) {
  const int64_t T = 4, H = 1, D = 2;
  // the first key is huge along q: every query attends only to it
  std::vector<float> q(T * D, 1.0f), k(T * D, 0.0f);
  k[0] = k[1] = 50.0f;
  std::vector<float> lse(T);
  for (int64_t t = 0; t < T; ++t) {
    double z = std::exp(100.0);
    for (int64_t j = 1; j <= t; ++j) z += 1.0;
    lse[t] = static_cast<float>(std::log(z));
  }
  LayerObservation obs;
  obs.tokens = T;
  obs.q_heads = obs.kv_heads = H;
  obs.head_dim = D;
  obs.attn_scale = 1.0f;
  obs.q = q;
  obs.k = k;
  obs.lse = lse;
  const SinkMass m = attention_sink_mass(obs);
  EXPECT_EQ(m.queries, 3);
  EXPECT_NEAR(m.sum_per_head[0] / m.queries, 1.0, 1e-5);
}

TEST(AttentionSink, RejectsBadShapes) {
  std::vector<float> q(8), k(8), lse(3);
  LayerObservation obs;
  obs.layer = 1;
  obs.tokens = 4;
  obs.q_heads = 1;
  obs.kv_heads = 1;
  obs.head_dim = 2;
  obs.q = q;
  obs.k = k;
  obs.lse = lse;
  EXPECT_THROW(attention_sink_mass(obs), std::invalid_argument);
  obs.kv_heads = 3;
  EXPECT_THROW(attention_sink_mass(obs), std::invalid_argument);
}

}  // namespace
}  // namespace wm::analysis
