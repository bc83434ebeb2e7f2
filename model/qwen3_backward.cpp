// Qwen3Model backward: the forward path reversed. grads_.d_resid carries the gradient of the
// residual stream from the layer output down to its input; parameter gradients accumulate.
#include <cmath>

#include "kernels/ops.h"
#include "model/qwen3.h"

namespace wm {

void Qwen3Model::backward(const Batch& batch) {
  const auto& p = params_.params();
  const auto& g = params_.grads();
  const size_t final_norm = p.size() - (cfg_.tie_word_embeddings ? 1 : 2);
  // lm_head_loss left d(final_normed) in grads_.d_normed.
  ops::rmsnorm_backward(grads_.d_resid, g[final_norm].tensor, grads_.d_normed, fwd_.hidden.back(),
                        p[final_norm].tensor, fwd_.final_rstd);
  for (int l = static_cast<int>(cfg_.num_hidden_layers) - 1; l >= 0; --l) {
    if (opt_.recompute) layer_forward(l, batch, Pass::Recompute);
    layer_backward(l, batch);
    if (grads_ready_) grads_ready_(l);
  }
  ops::embedding_backward(g.front().tensor, grads_.d_resid, batch.tokens());
}

void Qwen3Model::layer_backward(int l, const Batch& batch) {
  const LayerWeights w = layer_tensors(params_.params(), l);
  const LayerWeights dw = layer_tensors(params_.grads(), l);
  const LayerActivations& a = fwd_.layers[l];
  GradBuffers& g = grads_;
  const int64_t T = tokens_, hq = cfg_.num_attention_heads, hkv = cfg_.num_key_value_heads,
                hd = cfg_.head_dim;
  const float theta = static_cast<float>(cfg_.rope_theta);

  // ---- MLP: d_resid holds d(layer output)
  ops::linear_backward(g.d_act, dw.down, g.d_resid, a.act, w.down);
  ops::swiglu_backward(g.d_gate_up, g.d_act, a.gate_up);
  ops::linear_backward(g.d_normed, dw.gate_up, g.d_gate_up, a.normed2, w.gate_up);
  ops::rmsnorm_backward(g.d_resid, dw.post_norm, g.d_normed, a.mid, w.post_norm, a.rstd2,
                        /*accumulate_dx=*/true);  // now d(mid)

  // ---- attention
  ops::linear_backward(g.d_attn, dw.o, g.d_resid, a.attn.view({T, hq * hd}), w.o);
  const Tensor dq = g.dq.view({T, hq, hd}), dk = g.dk.view({T, hkv, hd}), dv = g.dv.view({T, hkv, hd});
  ops::attention_backward(dq, dk, dv, g.d_attn.view({T, hq, hd}), a.q, a.k, a.v, a.attn, a.lse,
                          batch.doc_start(), static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))),
                          batch.attn_docs());
  ops::rmsnorm_rope_backward(g.dq_raw.view({T, hq, hd}), dw.q_norm, dq, a.q_raw, w.q_norm, a.q_rstd,
                             batch.positions(), theta);
  ops::rmsnorm_rope_backward(g.dk_raw.view({T, hkv, hd}), dw.k_norm, dk, a.k_raw, w.k_norm, a.k_rstd,
                             batch.positions(), theta);
  // d(normed) = dq_raw Wq + dk_raw Wk + dv Wv
  ops::linear_backward(g.d_normed, dw.q, g.dq_raw, a.normed, w.q);
  ops::matmul(g.d_normed, g.dk_raw, w.k, false, false, 1.0f, 1.0f);
  ops::matmul(dw.k, g.dk_raw, a.normed, true, false, 1.0f, 1.0f);
  ops::matmul(g.d_normed, g.dv, w.v, false, false, 1.0f, 1.0f);
  ops::matmul(dw.v, g.dv, a.normed, true, false, 1.0f, 1.0f);
  wemask_.apply(l, g.d_normed, batch.sink_rows());
  ops::rmsnorm_backward(g.d_resid, dw.input_norm, g.d_normed, fwd_.hidden[l], w.input_norm, a.rstd1,
                        /*accumulate_dx=*/true);  // now d(layer input)
}

}  // namespace wm
