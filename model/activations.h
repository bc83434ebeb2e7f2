// Activation buffers of one Qwen3Model step, planned for T tokens inside one arena.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kernels/buffer.h"
#include "model/config.h"

namespace wm {

// What one decoder layer keeps from forward for backward. Shapes for T tokens, d = hidden,
// Hq/Hkv heads of D dims, F = intermediate.
struct LayerActivations {
  Tensor rstd1;           // [T]           input RMSNorm statistics
  Tensor normed;          // [T, d]        input RMSNorm output, after WeMask
  Tensor q_raw, k_raw;    // [T, Hq|Hkv, D] projections before q/k norm
  Tensor q_rstd, k_rstd;  // [T*Hq], [T*Hkv]
  Tensor q, k, v;         // [T, Hq|Hkv, D] q,k after norm + RoPE
  Tensor attn;            // [T, Hq, D]    attention output (before o_proj)
  Tensor lse;             // [Hq, T]
  Tensor mid;             // [T, d]        residual after the attention block
  Tensor rstd2;           // [T]
  Tensor normed2;         // [T, d]
  Tensor gate_up;         // [T, 2F]
  Tensor act;             // [T, F]        swiglu output
};

struct ForwardBuffers {
  std::vector<Tensor> hidden;             // L+1 x [T, d]: hidden[l] is layer l's input
  std::vector<LayerActivations> layers;   // L entries; all alias one set when shared
  Tensor attn_proj, mlp_out;              // [T, d] block outputs before the residual add
  Tensor final_rstd;                      // [T]
  Tensor final_normed;                    // [T, d]
  Tensor logits;                          // [C, V] one chunk of lm_head output
  Tensor token_loss, token_lse;           // [T] stat dtype
  Tensor loss_weight;                     // [T] the batch's loss weights in the stat dtype
};

// Scratch gradients of the backward pass (activation gradients are overwritten per layer).
struct GradBuffers {
  Tensor d_resid;          // [T, d] gradient of the residual stream
  Tensor d_normed;         // [T, d]
  Tensor d_attn, dq, dq_raw;  // [T, Hq*D]
  Tensor dk, dv, dk_raw;   // [T, Hkv*D]
  Tensor d_gate_up;        // [T, 2F]
  Tensor d_act;            // [T, F]
};

// Hands out tensors from an arena, or (without one) only counts the bytes they would need.
class ActivationPlanner {
 public:
  explicit ActivationPlanner(Arena* arena, Device device) : arena_(arena), device_(device) {}
  Tensor operator()(std::initializer_list<int64_t> shape, DType dtype);
  size_t bytes() const { return bytes_; }

 private:
  Arena* arena_;
  Device device_;
  size_t bytes_ = 0;
};

// Stat dtype for a compute dtype (rstd, lse, losses): F64 for F64, else F32.
inline DType stat_dtype(DType compute) { return compute == DType::F64 ? DType::F64 : DType::F32; }

// Which per-layer activations one buffer serves for every layer: none (a plain training step),
// all (forward only, or full-layer recompute), or the MLP's (normed2, gate_up, act: MLP recompute).
enum class LayerSharing { None, All, Mlp };

ForwardBuffers plan_forward(ActivationPlanner& alloc, const Qwen3Config& cfg, DType dtype,
                            int64_t tokens, int64_t chunk, LayerSharing sharing);
GradBuffers plan_grads(ActivationPlanner& alloc, const Qwen3Config& cfg, DType dtype, int64_t tokens);

}  // namespace wm
