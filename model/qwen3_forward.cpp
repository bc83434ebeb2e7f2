// Qwen3Model forward: embedding, decoder layers, final norm.
#include <cmath>

#include "kernels/ops.h"
#include "model/qwen3.h"

namespace wm {

void Qwen3Model::forward_hidden(const Batch& batch) {
  const auto& p = params_.params();
  ops::embedding_forward(fwd_.hidden[0], batch.tokens(), p.front().tensor);
  for (int l = 0; l < cfg_.num_hidden_layers; ++l) layer_forward(l, batch, Pass::Forward);
  const Tensor final_norm = p[p.size() - (cfg_.tie_word_embeddings ? 1 : 2)].tensor;
  ops::rmsnorm_forward(fwd_.final_normed, fwd_.final_rstd, fwd_.hidden.back(), final_norm,
                       static_cast<float>(cfg_.rms_norm_eps));
}

// Input norm (+ WeMask), q/k/v, q/k norm + RoPE, attention, o_proj: fills the attention half of
// the layer's activations and mid = x + o_proj(attn).
void Qwen3Model::layer_attention(int l, const Batch& batch, Pass pass) {
  const LayerWeights w = layer_tensors(params_.params(), l);
  LayerActivations& a = fwd_.layers[l];
  const int64_t T = tokens_, hq = cfg_.num_attention_heads, hkv = cfg_.num_key_value_heads,
                hd = cfg_.head_dim;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const float theta = static_cast<float>(cfg_.rope_theta);
  const Tensor& x = fwd_.hidden[l];
  ops::rmsnorm_forward(a.normed, a.rstd1, x, w.input_norm, eps);
  if (pass == Pass::Forward) wemask_.select(l, a.normed, batch.sink_rows(), w.input_norm);
  wemask_.apply(l, a.normed, batch.sink_rows());

  ops::linear_forward(a.q_raw.view({T, hq * hd}), a.normed, w.q);
  ops::linear_forward(a.k_raw.view({T, hkv * hd}), a.normed, w.k);
  ops::linear_forward(a.v.view({T, hkv * hd}), a.normed, w.v);
  ops::rmsnorm_rope_forward(a.q, a.q_rstd, a.q_raw, w.q_norm, eps, batch.positions(), theta);
  ops::rmsnorm_rope_forward(a.k, a.k_rstd, a.k_raw, w.k_norm, eps, batch.positions(), theta);
  ops::attention_forward(a.attn, a.lse, a.q, a.k, a.v, batch.doc_start(),
                         static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))), batch.attn_docs());

  residual_linear(a.mid, a.attn.view({T, hq * hd}), w.o, x, fwd_.attn_proj);  // mid = x + o_proj(attn)
}

// out = residual + in @ w^T with the add in the GEMM's epilogue; an observer also wants the
// branch output alone, so then it is kept in `branch` and added separately.
void Qwen3Model::residual_linear(Tensor out, const Tensor& in, const Tensor& w, const Tensor& residual,
                                 Tensor branch) {
  if (!observer_) return ops::linear_forward_residual(out, in, w, residual);
  ops::linear_forward(branch, in, w);
  ops::copy(out, residual);
  ops::add(out, branch);
}

// Pass::Recompute (in backward) rebuilds the saved activations up to the MLP activation, reusing
// the WeMask selection recorded by the forward pass, and skips down_proj and the layer output;
// with recompute_mlp_only the attention half was kept and only the MLP's part is rebuilt.
void Qwen3Model::layer_forward(int l, const Batch& batch, Pass pass) {
  const LayerWeights w = layer_tensors(params_.params(), l);
  LayerActivations& a = fwd_.layers[l];
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  if (!(pass == Pass::Recompute && opt_.recompute_mlp_only)) layer_attention(l, batch, pass);

  ops::rmsnorm_forward(a.normed2, a.rstd2, a.mid, w.post_norm, eps);
  ops::linear_forward(a.gate_up, a.normed2, w.gate_up);
  ops::swiglu_forward(a.act, a.gate_up);
  if (pass == Pass::Recompute) return;

  const Tensor& out = fwd_.hidden[l + 1];
  residual_linear(out, a.act, w.down, a.mid, fwd_.mlp_out);

  if (observer_) {
    LayerObservation o;
    o.layer = l;
    o.input = fwd_.hidden[l];
    o.input_rstd = a.rstd1;
    o.normed = a.normed;
    o.q = a.q;
    o.k = a.k;
    o.attn_lse = a.lse;
    o.attn_output = fwd_.attn_proj;
    o.post_attn_rstd = a.rstd2;
    o.mlp_output = fwd_.mlp_out;
    o.output = out;
    observer_(o);
  }
}

}  // namespace wm
