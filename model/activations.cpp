#include "model/activations.h"

#include <algorithm>

namespace wm {

Tensor ActivationPlanner::operator()(std::initializer_list<int64_t> shape, DType dtype) {
  if (arena_) return arena_->allocate(shape, dtype);
  Tensor t(nullptr, shape, dtype, device_);
  bytes_ += Arena::aligned(t.nbytes());
  return t;
}

namespace {

LayerActivations plan_layer(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T) {
  const int64_t d = c.hidden_size, hq = c.num_attention_heads, hkv = c.num_key_value_heads,
                hd = c.head_dim, f = c.intermediate_size;
  const DType st = stat_dtype(dt);
  LayerActivations a;
  a.rstd1 = alloc({T}, st);
  a.normed = alloc({T, d}, dt);
  a.q_raw = alloc({T, hq, hd}, dt);
  a.k_raw = alloc({T, hkv, hd}, dt);
  a.q_rstd = alloc({T * hq}, st);
  a.k_rstd = alloc({T * hkv}, st);
  a.q = alloc({T, hq, hd}, dt);
  a.k = alloc({T, hkv, hd}, dt);
  a.v = alloc({T, hkv, hd}, dt);
  a.attn = alloc({T, hq, hd}, dt);
  a.lse = alloc({hq, T}, st);
  a.mid = alloc({T, d}, dt);
  a.rstd2 = alloc({T}, st);
  a.normed2 = alloc({T, d}, dt);
  a.gate_up = alloc({T, 2 * f}, dt);
  a.act = alloc({T, f}, dt);
  return a;
}

}  // namespace

ForwardBuffers plan_forward(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T,
                            int64_t chunk, bool share_layers) {
  const int64_t d = c.hidden_size;
  const int L = static_cast<int>(c.num_hidden_layers);
  ForwardBuffers f;
  for (int l = 0; l <= L; ++l) f.hidden.push_back(alloc({T, d}, dt));
  if (share_layers) {
    f.layers.assign(L, plan_layer(alloc, c, dt, T));
  } else {
    for (int l = 0; l < L; ++l) f.layers.push_back(plan_layer(alloc, c, dt, T));
  }
  f.attn_proj = alloc({T, d}, dt);
  f.mlp_out = alloc({T, d}, dt);
  f.final_rstd = alloc({T}, stat_dtype(dt));
  f.final_normed = alloc({T, d}, dt);
  f.logits = alloc({std::min(chunk, T), c.vocab_size}, dt);
  f.token_loss = alloc({T}, stat_dtype(dt));
  f.token_lse = alloc({T}, stat_dtype(dt));
  f.loss_weight = alloc({T}, stat_dtype(dt));
  return f;
}

GradBuffers plan_grads(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T) {
  const int64_t d = c.hidden_size;
  GradBuffers g;
  g.d_resid = alloc({T, d}, dt);
  g.d_normed = alloc({T, d}, dt);
  g.d_attn = alloc({T, c.q_dim()}, dt);
  g.dq = alloc({T, c.q_dim()}, dt);
  g.dq_raw = alloc({T, c.q_dim()}, dt);
  g.dk = alloc({T, c.kv_dim()}, dt);
  g.dv = alloc({T, c.kv_dim()}, dt);
  g.dk_raw = alloc({T, c.kv_dim()}, dt);
  g.d_gate_up = alloc({T, 2 * c.intermediate_size}, dt);
  g.d_act = alloc({T, c.intermediate_size}, dt);
  return g;
}

}  // namespace wm
