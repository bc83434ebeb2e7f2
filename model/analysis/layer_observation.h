// One decoder layer's activations from one forward pass, as host F32 copies. This is what the
// analysis accumulators consume; model/analysis/observer_bridge.h fills it from the model's
// per-layer observer hook (device tensors are copied and converted there).
#pragma once
#include <cstdint>
#include <span>

namespace wm::analysis {

struct LayerObservation {
  int layer = 0;
  int64_t tokens = 0;  // T (all documents of the forward, packed)
  int64_t hidden = 0;  // d

  std::span<const float> input;           // [T, d] residual stream entering the layer
  std::span<const float> output;          // [T, d] residual stream leaving the layer
  std::span<const float> mlp_out;         // [T, d] FFN (down_proj) output added to the stream
  std::span<const float> input_rstd;      // [T] 1/rms at the input RMSNorm
  std::span<const float> post_attn_rstd;  // [T] 1/rms at the post-attention RMSNorm

  // Attention, optional (empty q skips the sink ratio).
  int64_t q_heads = 0, kv_heads = 0, head_dim = 0;
  float attn_scale = 0.0f;
  std::span<const float> q;    // [T, Hq, D] after q-norm and RoPE
  std::span<const float> k;    // [T, Hkv, D] after k-norm and RoPE
  std::span<const float> lse;  // [Hq, T] logsumexp of the scaled scores

  std::span<const int32_t> doc_start;  // [T] first row of each token's document; empty = one document
  std::span<const int32_t> token_ids;  // [T] optional, only echoed into the records
};

}  // namespace wm::analysis
