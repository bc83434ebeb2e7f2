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

// The attention half of a layer's activations (and mid, the residual stream after it).
LayerActivations plan_layer_attention(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T) {
  const int64_t d = c.hidden_size, hq = c.num_attention_heads, hkv = c.num_key_value_heads,
                hd = c.head_dim;
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
  return a;
}

// The MLP half: post-attention norm output, gate/up projection, SwiGLU output.
void plan_layer_mlp(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T, LayerActivations& a) {
  a.normed2 = alloc({T, c.hidden_size}, dt);
  a.gate_up = alloc({T, 2 * c.intermediate_size}, dt);
  a.act = alloc({T, c.intermediate_size}, dt);
}

}  // namespace

ForwardBuffers plan_forward(ActivationPlanner& alloc, const Qwen3Config& c, DType dt, int64_t T,
                            int64_t chunk, LayerSharing sharing) {
  const int64_t d = c.hidden_size;
  const int L = static_cast<int>(c.num_hidden_layers);
  ForwardBuffers f;
  for (int l = 0; l <= L; ++l) f.hidden.push_back(alloc({T, d}, dt));
  if (sharing == LayerSharing::All) {
    LayerActivations a = plan_layer_attention(alloc, c, dt, T);
    plan_layer_mlp(alloc, c, dt, T, a);
    f.layers.assign(L, a);
  } else {
    for (int l = 0; l < L; ++l) f.layers.push_back(plan_layer_attention(alloc, c, dt, T));
    LayerActivations shared_mlp;
    if (sharing == LayerSharing::Mlp) plan_layer_mlp(alloc, c, dt, T, shared_mlp);
    for (auto& a : f.layers) {
      if (sharing == LayerSharing::None) plan_layer_mlp(alloc, c, dt, T, a);
      else a.normed2 = shared_mlp.normed2, a.gate_up = shared_mlp.gate_up, a.act = shared_mlp.act;
    }
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
