// Free functions the model calls: each forwards to the backend of its first tensor's device.
// Semantics and shapes are documented on wm::Backend (kernels/backend.h).
#pragma once
#include "kernels/backend.h"

namespace wm::ops {

inline void fill(Tensor x, double v) { backend(x.device).fill(x, v); }
inline void zero(Tensor x) { backend(x.device).fill(x, 0.0); }
inline void copy(Tensor dst, const Tensor& src) {
  // Cross-device copies go through the device side's backend.
  backend(dst.device == Device::CUDA ? dst.device : src.device).copy(dst, src);
}
inline void convert(Tensor dst, const Tensor& src) { backend(dst.device).convert(dst, src); }
inline void add(Tensor y, const Tensor& x, float alpha = 1.0f) { backend(y.device).add(y, x, alpha); }
inline void scale(Tensor x, float s) { backend(x.device).scale(x, s); }
inline double sum_squares(const Tensor& x) { return backend(x.device).sum_squares(x); }
inline bool has_nonfinite(const Tensor& x) { return backend(x.device).has_nonfinite(x); }
inline void synchronize(Device d) { backend(d).synchronize(); }

inline void embedding_forward(Tensor out, const Tensor& ids, const Tensor& table) {
  backend(out.device).embedding_forward(out, ids, table);
}
inline void embedding_backward(Tensor dtable, const Tensor& dout, const Tensor& ids) {
  backend(dtable.device).embedding_backward(dtable, dout, ids);
}
inline void rmsnorm_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps) {
  backend(y.device).rmsnorm_forward(y, rstd, x, w, eps);
}
inline void rmsnorm_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x,
                             const Tensor& w, const Tensor& rstd, bool accumulate_dx = false) {
  backend(dx.device).rmsnorm_backward(dx, dw, dy, x, w, rstd, accumulate_dx);
}
inline void rmsnorm_rope_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps,
                                 const Tensor& pos, float theta) {
  backend(y.device).rmsnorm_rope_forward(y, rstd, x, w, eps, pos, theta);
}
inline void rmsnorm_rope_backward(Tensor dx, Tensor dw, Tensor dy, const Tensor& x, const Tensor& w,
                                  const Tensor& rstd, const Tensor& pos, float theta) {
  backend(dx.device).rmsnorm_rope_backward(dx, dw, dy, x, w, rstd, pos, theta);
}
inline void rope_forward(Tensor x, const Tensor& pos, float theta) {
  backend(x.device).rope_forward(x, pos, theta);
}
inline void rope_backward(Tensor dx, const Tensor& pos, float theta) {
  backend(dx.device).rope_backward(dx, pos, theta);
}
inline void attention_forward(Tensor out, Tensor lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor& doc_start, float scale,
                              const AttnDocs& docs = {}) {
  backend(out.device).attention_forward(out, lse, q, k, v, doc_start, scale, docs);
}
inline void attention_backward(Tensor dq, Tensor dk, Tensor dv, const Tensor& dout, const Tensor& q,
                               const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const Tensor& doc_start, float scale,
                               const AttnDocs& docs = {}) {
  backend(dq.device).attention_backward(dq, dk, dv, dout, q, k, v, out, lse, doc_start, scale, docs);
}
inline void swiglu_forward(Tensor out, const Tensor& gate_up) {
  backend(out.device).swiglu_forward(out, gate_up);
}
inline void swiglu_backward(Tensor dgate_up, const Tensor& dout, const Tensor& gate_up) {
  backend(dgate_up.device).swiglu_backward(dgate_up, dout, gate_up);
}
inline void matmul(Tensor c, const Tensor& a, const Tensor& b, bool trans_a = false,
                   bool trans_b = false, float alpha = 1.0f, float beta = 0.0f) {
  backend(c.device).matmul(c, a, b, trans_a, trans_b, alpha, beta);
}
// y [N, out] = residual + x [N, in] @ W[out, in]^T  (y may be residual)
inline void linear_forward_residual(Tensor y, const Tensor& x, const Tensor& w, const Tensor& residual) {
  backend(y.device).matmul_add(y, x, w, residual, false, true);
}
// y [N, out] = x [N, in] @ W[out, in]^T
inline void linear_forward(Tensor y, const Tensor& x, const Tensor& w) { matmul(y, x, w, false, true); }
// dx [N, in] = dy @ W  (overwrite);  dW [out, in] += dy^T @ x  (accumulate)
inline void linear_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x, const Tensor& w) {
  if (dx.data) matmul(dx, dy, w, false, false);
  matmul(dw, dy, x, true, false, 1.0f, 1.0f);
}
inline void cross_entropy_forward(Tensor losses, Tensor lse, const Tensor& logits,
                                  const Tensor& targets, int ignore_index = -100) {
  backend(logits.device).cross_entropy_forward(losses, lse, logits, targets, ignore_index);
}
inline void cross_entropy_backward(Tensor dlogits, const Tensor& logits, const Tensor& lse,
                                   const Tensor& targets, const Tensor& dloss,
                                   int ignore_index = -100) {
  backend(logits.device).cross_entropy_backward(dlogits, logits, lse, targets, dloss, ignore_index);
}
inline void adamw_update(Tensor master, const Tensor& grad, Tensor m, Tensor v,
                         const AdamWParams& hp, float grad_scale = 1.0f, Tensor weights = {}) {
  backend(master.device).adamw_update(master, grad, m, v, hp, grad_scale, weights);
}
inline void scale_entries(Tensor x, const Tensor& rows, const Tensor& dims, float factor) {
  backend(x.device).scale_entries(x, rows, dims, factor);
}
inline void mean_abs_rows(Tensor out, const Tensor& x, const Tensor& rows) {
  backend(x.device).mean_abs_rows(out, x, rows);
}
inline void kv_cache_write(Tensor k_cache, Tensor v_cache, const Tensor& k, const Tensor& v,
                           const Tensor& slots, const Tensor& positions) {
  backend(k_cache.device).kv_cache_write(k_cache, v_cache, k, v, slots, positions);
}
inline void attention_decode(Tensor out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                             const Tensor& slots, const Tensor& lengths, float scale) {
  backend(out.device).attention_decode(out, q, k_cache, v_cache, slots, lengths, scale);
}
inline void sample_tokens(Tensor ids, Tensor logprobs, const Tensor& logits, const Tensor& uniforms,
                          float temperature) {
  backend(logits.device).sample_tokens(ids, logprobs, logits, uniforms, temperature);
}
// Graph capture on a device's backend (see Backend::begin_capture).
inline bool begin_capture(Device d) { return backend(d).begin_capture(); }
inline int64_t end_capture(Device d) { return backend(d).end_capture(); }
inline void abort_capture(Device d) { backend(d).abort_capture(); }
inline void replay_graph(Device d, int64_t graph) { backend(d).replay_graph(graph); }
inline void release_graph(Device d, int64_t graph) { backend(d).release_graph(graph); }

}  // namespace wm::ops
