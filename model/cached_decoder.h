// Qwen3Model's decoder stack run against a KvCache (the rollout engine's forward):
//  - prefill: packed prompts (each a document: causal attention inside it, the model's
//    attention_forward), every layer's post-RoPE keys/values written into the cache;
//  - decode: one token per sequence, attention_decode over that sequence's cached prefix.
// Uses the model's own weights (views into its ParamStore, no copy) and its WeMask state: masking
// touches only prompt-first tokens (position 0) at prefill, never a decoded token.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "kernels/buffer.h"
#include "model/kv_cache.h"
#include "model/qwen3.h"

namespace wm {

class CachedDecoder {
 public:
  // max_tokens: most tokens one call may run (a prefill chunk, a decode batch, the WeMask
  // pre-pass); max_logit_rows: most rows of logits one call may return.
  // graphs: replay each decode batch size's forward as a recorded graph (CUDA graphs; the same
  // kernels on the same memory, so the same results), recorded on its first use.
  CachedDecoder(Qwen3Model& model, KvCache& cache, int64_t max_tokens, int64_t max_logit_rows, bool graphs = false);
  ~CachedDecoder();
  CachedDecoder(const CachedDecoder&) = delete;
  CachedDecoder& operator=(const CachedDecoder&) = delete;

  // Host-side description of one prefill chunk: packed prompts, one document each.
  struct Prefill {
    std::vector<int32_t> tokens, positions, doc_start, slots;  // [T]
    std::vector<int32_t> logit_rows;  // rows whose next-token logits are returned
  };

  // Records the WeMask selection of every masked layer from the prompts' first tokens (run as
  // one-token documents, exactly what the model's forward sees at its sink rows) for the next
  // prefill calls. No-op when WeMask is off.
  void select_wemask(const std::vector<int32_t>& first_tokens);
  // Returns logits [logit_rows, V] (F32; F64 for F64 models), valid until the next call.
  Tensor prefill(const Prefill& chunk);
  // tokens[b] sits at position positions[b] of cache slot slots[b] and attends to that slot's
  // positions 0..positions[b]. Returns logits [B, V] as prefill does.
  Tensor decode(const std::vector<int32_t>& tokens, const std::vector<int32_t>& positions,
                const std::vector<int32_t>& slots);

 private:
  struct LayerViews {
    Tensor input_norm, q, k, v, q_norm, k_norm, o, post_norm, gate_up, down;
  };
  struct Ids {  // device views of one call's index arrays
    Tensor tokens, positions, slots, doc_start, lengths, sink_rows, logit_rows;
  };
  enum class Attention { Packed, Cached };

  Ids upload(const std::vector<const std::vector<int32_t>*>& arrays);
  void run_layers(int64_t T, const Ids& ids, Attention attention, bool write_cache, bool select);
  Tensor logits(int64_t rows, const Tensor* gather_rows);

  Qwen3Model& model_;
  KvCache& cache_;
  Qwen3Config cfg_;
  int64_t max_tokens_, max_logit_rows_;
  bool use_graphs_;
  std::map<int64_t, int64_t> graphs_;  // decode batch size -> recorded graph
  std::vector<LayerViews> layers_;
  Tensor embedding_, final_norm_, lm_head_;
  OwnedTensor ids_;  // I32 [7 * max(max_tokens, max_logit_rows)] uploaded per call
  OwnedTensor hidden_, normed_, rstd_, q_, k_, k_raw_, v_, q_rstd_, k_rstd_, attn_, lse_, proj_, gate_up_, act_;
  OwnedTensor last_hidden_, final_normed_, final_rstd_, logits_;
};

}  // namespace wm
