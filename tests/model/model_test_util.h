// Shared helpers of the model tests: a tiny Qwen3 config, random weights, a packed test batch.
#pragma once
#include <cmath>
#include <random>
#include <vector>

#include "model/batch.h"
#include "model/qwen3.h"

namespace wm::test {

inline Qwen3Config tiny_config(bool tied) {
  Qwen3Config c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = tied;
  return c;
}

// Norm weights 1 +- 0.2, embeddings ~N(0, 1), linear weights ~N(0, 0.2) (F64/F32 CPU models).
inline void init_random(ParamStore& store, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const auto& spec = store.specs()[i];
    const Tensor t = store.param(i);
    for (int64_t j = 0; j < t.numel(); ++j) {
      double v = normal(rng);
      if (spec.kind == ParamKind::Norm) v = 1.0 + 0.2 * v;
      else if (spec.kind != ParamKind::Embedding) v *= 0.2;
      if (t.dtype == DType::F64) t.ptr<double>()[j] = v;
      else t.ptr<float>()[j] = static_cast<float>(v);
    }
  }
}

// Two rows of 8: row 0 packs documents of 3 and 4 tokens plus one padding token; row 1 is one
// 8-token document with two ignored targets. Loss weights are 1/num_loss_tokens.
inline HostBatch test_batch() {
  HostBatch b = pack_documents({{{5, 17, 42}, {7, 3, 60, 11}}, {{1, 2, 3, 4, 9, 33, 21, 8}}}, 8);
  b.targets[8 + 2] = kIgnoreIndex;
  b.targets[8 + 5] = kIgnoreIndex;
  const float w = 1.0f / static_cast<float>(b.num_loss_tokens());
  for (size_t t = 0; t < b.targets.size(); ++t) b.loss_weight[t] = b.targets[t] == kIgnoreIndex ? 0.0f : w;
  return b;
}

inline std::vector<double> host_values(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = t.dtype == DType::F64 ? t.ptr<double>()[i] : static_cast<double>(t.ptr<float>()[i]);
  return v;
}

}  // namespace wm::test
