// Qwen3 decoder-only model with a hand-written backward, on any backend (the tensors' device
// picks the kernels). Per layer:
//   x -> RMSNorm -> [WeMask on sink rows] -> q,k,v proj -> q/k RMSNorm per head -> RoPE -> attention
//     -> o_proj -> +x -> RMSNorm -> [gate;up] proj -> SwiGLU -> down_proj -> +residual
// then the final RMSNorm and lm_head + cross-entropy, computed in chunks of tokens so that the
// logits of the whole batch never exist at once.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "kernels/buffer.h"
#include "model/activations.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/param_store.h"
#include "model/wemask.h"

namespace wm {

struct ModelOptions {
  Device device = Device::CPU;
  DType dtype = DType::F32;   // compute dtype of weights and activations
  bool recompute = false;     // keep only each layer's input; recompute the layer in backward
  bool recompute_mlp_only = false;  // with recompute: keep the attention half per layer too and
                                    // recompute only the MLP's activations (more memory, less work)
  WeMaskSpec wemask;
  int64_t max_tokens = 2048;  // largest B*S a batch may have (sizes the activation arena)
  int64_t loss_chunk = 1024;  // tokens per lm_head + cross-entropy chunk
  bool inference_only = false;  // size activations for forward passes only (no forward_backward)
};

// Views of one layer's forward, for analysis (valid only during the callback).
struct LayerObservation {
  int layer = 0;
  Tensor input;           // [T, d] residual stream into the layer
  Tensor input_rstd;      // [T]
  Tensor normed;          // [T, d] input RMSNorm output after WeMask
  Tensor q, k;            // [T, H, D] after q/k norm and RoPE
  Tensor attn_lse;        // [Hq, T]
  Tensor attn_output;     // [T, d] after o_proj
  Tensor post_attn_rstd;  // [T]
  Tensor mlp_output;      // [T, d] after down_proj
  Tensor output;          // [T, d] layer output
};
using LayerObserver = std::function<void(const LayerObservation&)>;

// A per-token objective for forward_backward (e.g. GRPO): given every token's loss
// -log p(target) [T] (0 where the target is ignored), returns d objective / d loss[t] [T].
using TokenLossGradFn = std::function<std::vector<float>(const std::vector<double>& token_loss)>;

struct LossResult {
  double weighted_loss = 0.0;     // sum_t loss_weight[t] * loss[t]
  std::vector<double> token_loss; // [T] -log p(target), 0 where the target is ignored
};

class Qwen3Model {
 public:
  Qwen3Model(const Qwen3Config& cfg, ModelOptions options);

  const Qwen3Config& config() const { return cfg_; }
  const ModelOptions& options() const { return opt_; }
  ParamStore& params() { return params_; }
  const ParamStore& params() const { return params_; }
  WeMask& wemask() { return wemask_; }
  const WeMask& wemask() const { return wemask_; }
  void set_observer(LayerObserver observer) { observer_ = std::move(observer); }
  // Optional: called in the backward pass right after layer `layer`'s parameter gradients are
  // complete (layers run last to first), e.g. to start their all-reduce while the backward goes on.
  void set_layer_grads_ready(std::function<void(int layer)> callback) { grads_ready_ = std::move(callback); }

  // Forward and backward: parameter gradients are ACCUMULATED into params().flat_grads().
  // Returns the weighted loss sum_t loss_weight[t] * loss[t].
  double forward_backward(const Batch& batch);
  // Same, with the per-token loss weights chosen by `dloss` after the forward pass (the lm_head
  // is recomputed chunk by chunk for the backward). Returns sum_t dloss[t] * loss[t].
  double forward_backward(const Batch& batch, const TokenLossGradFn& dloss);
  // Forward only.
  LossResult forward_loss(const Batch& batch);
  // Forward only; logits [T, V] in the model dtype on the model device.
  void forward_logits(const Batch& batch, Tensor logits);

  size_t activation_bytes() const { return arena_.capacity(); }

 private:
  struct LayerWeights {  // views into the parameter (or gradient) store of one layer
    Tensor input_norm, q, k, v, q_norm, k_norm, o, post_norm, gate_up, down;
  };
  enum class Pass { Forward, Recompute };

  LayerWeights layer_tensors(const NamedTensors& store, int layer) const;
  Tensor lm_head(const NamedTensors& store) const;
  void check_batch(const Batch& batch) const;
  void plan(int64_t tokens, bool with_grads);

  void forward_hidden(const Batch& batch);
  void layer_forward(int layer, const Batch& batch, Pass pass);
  void layer_attention(int layer, const Batch& batch, Pass pass);
  void residual_linear(Tensor out, const Tensor& in, const Tensor& w, const Tensor& residual, Tensor branch);
  LayerSharing layer_sharing(bool with_grads) const;
  double lm_head_loss(const Batch& batch, bool backward);
  void lm_head_backward(const Batch& batch);  // with fwd_.loss_weight and the saved lse
  void backward(const Batch& batch);
  void layer_backward(int layer, const Batch& batch);

  Qwen3Config cfg_;
  ModelOptions opt_;
  ParamStore params_;
  WeMask wemask_;
  LayerObserver observer_;
  std::function<void(int)> grads_ready_;
  Arena arena_;
  ForwardBuffers fwd_;
  GradBuffers grads_;
  int64_t tokens_ = 0;  // T of the planned step
};

}  // namespace wm
