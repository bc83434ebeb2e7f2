// The op interface. Every op has a CPU reference implementation and a CUDA implementation;
// the device of the tensors picks the backend (see ops.h for the free functions the model calls).
//
// Conventions (all backends):
// - Tensors are contiguous row-major. "[T, d]" means T rows of d elements.
// - Outputs come first. Activation gradients are OVERWRITTEN; parameter gradients (dw, dtable,
//   dweight ...) are ACCUMULATED (+=), so micro-batches add up until the trainer zeroes them.
// - Float tensors may be F32 or F64 on the CPU (F64 exists for finite-difference checks),
//   BF16 or F32 on CUDA. Statistics saved for backward (rstd, lse) are always F32
//   (F64 when the inputs are F64). Index tensors are I32.
#pragma once
#include <cstdint>
#include <stdexcept>

#include "kernels/tensor.h"

namespace wm {

struct AdamWParams {
  float lr = 1e-5f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t step = 1;  // 1-based, for bias correction
};

// What the host knows about the documents behind an attention call's doc_start, so that a
// backend may pick a faster kernel; the result is the same either way. Default: nothing known.
struct AttnDocs {
  int64_t rows = 0, seq = 0;  // the T tokens are rows x seq (0: unknown)
  bool whole_rows = false;    // every row is exactly one document: doc_start[t] == (t / seq) * seq
  // The documents of >= 2 tokens as token ranges [begin[i], end[i]) in increasing order; every
  // token outside them is a one-token document (padding). Device I32 arrays on the tensors'
  // device; num_docs < 0: no list given.
  int64_t num_docs = -1;
  int64_t max_doc_len = 0;
  const int32_t* doc_begin = nullptr;
  const int32_t* doc_end = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory and elementwise
  virtual void fill(Tensor x, double value) = 0;
  // dst = src, same numel and dtype; src may live on another device (host<->device copies).
  virtual void copy(Tensor dst, const Tensor& src) = 0;
  // dst = cast(src): same device and numel, any float dtypes (bf16 rounds to nearest even).
  virtual void convert(Tensor dst, const Tensor& src) = 0;
  // y += alpha * x (same dtype and numel).
  virtual void add(Tensor y, const Tensor& x, float alpha) = 0;
  virtual void scale(Tensor x, float s) = 0;
  // sum of x^2 with fp64 (CPU) / fp32 (CUDA) accumulation; waits for the device.
  virtual double sum_squares(const Tensor& x) = 0;
  // true if any element is NaN or Inf; waits for the device.
  virtual bool has_nonfinite(const Tensor& x) = 0;
  virtual void synchronize() = 0;

  // ---- embedding: out[t, :] = table[ids[t], :]
  // out [T, d], ids I32 [T], table [V, d]. An id outside [0, V) throws std::out_of_range.
  virtual void embedding_forward(Tensor out, const Tensor& ids, const Tensor& table) = 0;
  // dtable[ids[t], :] += dout[t, :]
  virtual void embedding_backward(Tensor dtable, const Tensor& dout, const Tensor& ids) = 0;

  // ---- RMSNorm as Qwen3 does it: rstd = 1/sqrt(mean(x^2) + eps) in fp32,
  //      y = w * cast_to_x_dtype(x * rstd).   x, y [N, d]; w [d]; rstd F32 [N].
  // Per-head q/k norm is the same op on a [T*heads, head_dim] view.
  virtual void rmsnorm_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps) = 0;
  // dx [N, d] overwritten, or added to when accumulate_dx (a residual stream's gradient);
  // dw accumulated [d].
  virtual void rmsnorm_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x,
                                const Tensor& w, const Tensor& rstd, bool accumulate_dx) = 0;

  // ---- RoPE, rotate-half convention, in place on x [T, H, D]; pos I32 [T].
  // inv_freq[i] = theta^(-2i/D) (fp32), angle = float(pos) * inv_freq[i] (fp32), i < D/2:
  //   x'[i] = x[i] cos - x[i + D/2] sin ;  x'[i + D/2] = x[i + D/2] cos + x[i] sin
  virtual void rope_forward(Tensor x, const Tensor& pos, float theta) = 0;
  // In place on the gradient: applies the transpose (inverse) rotation.
  virtual void rope_backward(Tensor dx, const Tensor& pos, float theta) = 0;

  // ---- Qwen3's q/k path: per-head RMSNorm then RoPE, x, y [T, H, D], rstd F32 [T*H].
  // By default the two ops above in turn; a backend may fuse them (same roundings).
  virtual void rmsnorm_rope_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps,
                                    const Tensor& pos, float theta) {
    const int64_t rows = x.size(0) * x.size(1), D = x.size(2);
    rmsnorm_forward(y.view({rows, D}), rstd, x.view({rows, D}), w, eps);
    rope_forward(y, pos, theta);
  }
  // dy: gradient of the rotated output (the default overwrites it with the unrotated one);
  // dx overwritten, dw accumulated, as rmsnorm_backward.
  virtual void rmsnorm_rope_backward(Tensor dx, Tensor dw, Tensor dy, const Tensor& x, const Tensor& w,
                                     const Tensor& rstd, const Tensor& pos, float theta) {
    const int64_t rows = x.size(0) * x.size(1), D = x.size(2);
    rope_backward(dy, pos, theta);
    rmsnorm_backward(dx.view({rows, D}), dw, dy.view({rows, D}), x.view({rows, D}), w, rstd, false);
  }

  // ---- attention: causal, grouped-query, packed documents, never a [T x T] score matrix needed.
  // q [T, Hq, D]; k, v [T, Hkv, D] (Hq % Hkv == 0, query head h uses kv head h / (Hq/Hkv));
  // out [T, Hq, D]; lse F32 [Hq, T] = logsumexp_j(scale * q.k_j) saved for backward.
  // doc_start I32 [T]: row index of the first token of t's document. Query t sees keys j with
  // doc_start[t] <= j <= t; this also keeps the rows of a batch (flattened into T) apart.
  // docs: optional host-side facts about doc_start (see AttnDocs); they never change the result.
  virtual void attention_forward(Tensor out, Tensor lse, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const Tensor& doc_start, float scale,
                                 const AttnDocs& docs) = 0;
  // dq, dk, dv overwritten.
  virtual void attention_backward(Tensor dq, Tensor dk, Tensor dv, const Tensor& dout,
                                  const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, const Tensor& doc_start,
                                  float scale, const AttnDocs& docs) = 0;

  // ---- SwiGLU on a packed gate/up activation: gate_up [N, 2F] (gate = first F columns,
  // up = last F), out [N, F] = silu(gate) * up.
  virtual void swiglu_forward(Tensor out, const Tensor& gate_up) = 0;
  // dgate_up [N, 2F] overwritten.
  virtual void swiglu_backward(Tensor dgate_up, const Tensor& dout, const Tensor& gate_up) = 0;

  // ---- matmul: C[M, N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T, row-major 2-D.
  // A and B share a dtype; C may be that dtype or F32 (fp32 accumulation always).
  // A linear layer y = x W^T is matmul(y, x, W, false, true).
  virtual void matmul(Tensor c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                      float alpha, float beta) = 0;
  // D = op(A) @ op(B) + C (a residual add in the GEMM's epilogue); D may be C. By default a copy
  // then an accumulating matmul.
  virtual void matmul_add(Tensor d, const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a,
                          bool trans_b) {
    if (d.data != c.data) copy(d, c);
    matmul(d, a, b, trans_a, trans_b, 1.0f, 1.0f);
  }

  // ---- cross-entropy: logits [N, V] (any float dtype), targets I32 [N].
  // losses F32 [N] = lse - logits[target]; lse F32 [N]. target == ignore_index -> loss 0.
  virtual void cross_entropy_forward(Tensor losses, Tensor lse, const Tensor& logits,
                                     const Tensor& targets, int ignore_index) = 0;
  // dlogits [N, V] (may alias logits) = (softmax(logits) - onehot(target)) * dloss[n];
  // dloss F32 [N] is the weight of each token's loss; ignored rows get 0.
  virtual void cross_entropy_backward(Tensor dlogits, const Tensor& logits, const Tensor& lse,
                                      const Tensor& targets, const Tensor& dloss,
                                      int ignore_index) = 0;

  // ---- AdamW (decoupled weight decay), fp32 master/m/v, grad F32 or BF16 scaled by grad_scale:
  //   g = grad * grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
  //   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + lr * wd * p
  // weights (optional: Tensor{} = none; F32 or BF16, numel of master): receives the updated p rounded to its
  // dtype, exactly what convert(weights, master) would write, in the same pass over memory.
  virtual void adamw_update(Tensor master, const Tensor& grad, Tensor m, Tensor v,
                            const AdamWParams& hp, float grad_scale, Tensor weights) = 0;

  // ---- WeMask helpers. x [N, d]; rows I32 [R]; dims I32 [K].
  // x[rows[r], dims[k]] *= factor (forward on activations, backward on their gradients).
  virtual void scale_entries(Tensor x, const Tensor& rows, const Tensor& dims, float factor) = 0;
  // out F32 [d] = mean over r of |x[rows[r], :]|
  virtual void mean_abs_rows(Tensor out, const Tensor& x, const Tensor& rows) = 0;

  // ---- KV-cache decoding (the rollout engine). Caches are [S, L, Hkv, D]: S sequence slots of
  // L positions; a token's keys of all kv heads are contiguous, so one write is one row.
  // k_cache[slots[t], positions[t]] = k[t] and the same for v; k, v [T, Hkv, D]; slots,
  // positions I32 [T]. A slot outside [0, S) or a position outside [0, L) throws std::out_of_range
  // (CPU) or raises the device error flag (CUDA, thrown at the next synchronize).
  virtual void kv_cache_write(Tensor k_cache, Tensor v_cache, const Tensor& k, const Tensor& v,
                              const Tensor& slots, const Tensor& positions) = 0;
  // One query token per row b: q, out [B, Hq, D]; row b attends (grouped-query, head h uses kv
  // head h / (Hq/Hkv)) to the keys/values 0 .. lengths[b]-1 of cache slot slots[b]:
  //   out[b, h] = sum_j softmax_j(scale * q[b, h] . k_cache[slots[b], j, g]) v_cache[slots[b], j, g].
  // slots, lengths I32 [B]; 1 <= lengths[b] <= L (bad values: as kv_cache_write).
  virtual void attention_decode(Tensor out, const Tensor& q, const Tensor& k_cache,
                                const Tensor& v_cache, const Tensor& slots, const Tensor& lengths,
                                float scale) = 0;
  // One token per row of logits [B, V] (any float dtype) by inverse-CDF sampling:
  // temperature > 0: p = softmax(logits / temperature); ids[b] = the smallest i with
  //   p_0 + ... + p_i > uniforms[b] (uniforms F32 [B] in [0, 1)); logprobs[b] = log p[ids[b]].
  // temperature == 0: ids[b] = argmax (lowest id on ties); logprobs[b] = log softmax(logits)[ids[b]].
  // ids I32 [B]; logprobs F32 [B].
  virtual void sample_tokens(Tensor ids, Tensor logprobs, const Tensor& logits,
                             const Tensor& uniforms, float temperature) = 0;

  // ---- Graph capture (an execution aid, not an op). Between begin_capture() and end_capture()
  // the ops enqueued on this backend are recorded instead of run; replay_graph(id) runs the
  // recording again on the same memory (the tensors' contents may change in between, not their
  // addresses or shapes). No host<->device copy or synchronisation may happen while capturing;
  // abort_capture() ends a failed capture. Backends without graphs return false from begin_capture.
  virtual bool begin_capture() { return false; }
  virtual int64_t end_capture() { throw std::logic_error("end_capture: this backend has no graphs"); }
  virtual void abort_capture() {}
  virtual void replay_graph(int64_t graph) { throw std::logic_error("replay_graph: this backend has no graphs"); }
  virtual void release_graph(int64_t graph) {}
};

// The backend for a device. Throws std::runtime_error naming the problem when the device is
// not available (a build without CUDA, or no GPU present).
Backend& backend(Device device);
bool cuda_available();
// Bytes in use on the current GPU (total - free, every process and context included), or -1 when
// there is no GPU. What nvidia-smi shows as memory.used; the trainer prints it on CUDA runs.
int64_t cuda_memory_in_use();

namespace cpu { Backend& cpu_backend(); }
#ifdef WEMASK_HAVE_CUDA
namespace cuda { Backend& cuda_backend(); bool device_present(); int64_t memory_in_use(); }
#endif

}  // namespace wm
