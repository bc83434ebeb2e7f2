// A tiny Qwen3 whose layer `me_layer` FFN writes chosen massive values into chosen hidden dims of
// every document's first token, for testing the ME-layer analysis end to end.
//
// How it is planted: every document starts with `sink_token`, whose embedding is 4 * e_marker
// (no other token has any weight on the marker dim). At the ME layer the post-attention norm of
// the first token is ~sqrt(d) * e_marker; intermediate unit 0 has gate = up = 3 * normed[marker],
// so silu(gate) * up ~ (3 sqrt(d))^2 for the first token and ~0 for the others; down_proj
// column 0 writes value / (3 sqrt(d))^2 into each chosen dim. All other weights are small.
#pragma once
#include <cmath>
#include <random>
#include <vector>

#include "model/qwen3.h"

namespace wm::analysis::testing {

struct PlantSpec {
  int me_layer = 2;
  std::vector<int64_t> dims = {3, 17};
  std::vector<float> values = {1200.0f, -800.0f};
  bool planted = true;  // false: random weights only
  int32_t sink_token = 7;
  int64_t marker_dim = 60;
};

inline Qwen3Config planted_config() {
  Qwen3Config c;
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = 5;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 256;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = true;
  c.torch_dtype = "float32";
  return c;
}

inline void init_planted(ParamStore& store, const Qwen3Config& cfg, const PlantSpec& p, uint32_t seed = 11) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const auto& spec = store.specs()[i];
    float* w = store.param(i).ptr<float>();
    for (int64_t j = 0; j < spec.numel(); ++j) {
      if (spec.kind == ParamKind::Norm) w[j] = 1.0f;
      else if (spec.kind == ParamKind::Embedding) w[j] = normal(rng);
      else w[j] = 0.02f * normal(rng);
    }
  }
  if (!p.planted) return;
  const int64_t d = cfg.hidden_size, F = cfg.intermediate_size;
  float* emb = store.param("model.embed_tokens.weight").ptr<float>();
  for (int64_t v = 0; v < cfg.vocab_size; ++v) emb[v * d + p.marker_dim] = 0.0f;
  for (int64_t j = 0; j < d; ++j) emb[p.sink_token * d + j] = j == p.marker_dim ? 4.0f : 0.0f;

  const std::string layer = "model.layers." + std::to_string(p.me_layer) + ".mlp.";
  float* gate = store.param(layer + "gate_proj.weight").ptr<float>();  // [F, d]
  float* up = store.param(layer + "up_proj.weight").ptr<float>();      // [F, d]
  float* down = store.param(layer + "down_proj.weight").ptr<float>();  // [d, F]
  for (int64_t j = 0; j < d; ++j) gate[j] = up[j] = 0.0f;  // row 0
  gate[p.marker_dim] = up[p.marker_dim] = 3.0f;
  const double act = std::pow(3.0 * std::sqrt(static_cast<double>(d)), 2.0);
  for (int64_t i = 0; i < d; ++i) down[i * F] = 0.0f;  // column 0
  for (size_t k = 0; k < p.dims.size(); ++k) down[p.dims[k] * F] = static_cast<float>(p.values[k] / act);
}

// `count` documents of `length` tokens: the sink token, then ids in [8, vocab).
inline std::vector<std::vector<int32_t>> planted_documents(const Qwen3Config& cfg, const PlantSpec& p, int count,
                                                           int length, uint32_t seed = 5) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(8, static_cast<int32_t>(cfg.vocab_size) - 1);
  std::vector<std::vector<int32_t>> docs;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> doc = {p.sink_token};
    for (int t = 1; t < length; ++t) doc.push_back(id(rng));
    docs.push_back(doc);
  }
  return docs;
}

}  // namespace wm::analysis::testing
