// The rollout engine: batched generation with a KV cache, on the model's own weights.
//
//   1. WeMask (when on): the selection of every masked layer is made from the prompts' first
//      tokens (as the model's forward does from a batch's sink rows); only those tokens are masked.
//   2. Prefill: prompts packed as separate documents into chunks of at most
//      max(model.options().max_tokens, longest prompt) tokens; each layer's post-RoPE keys and
//      values go into the cache; the last token's logits give the first new token.
//   3. Decode: one step runs every live sequence's last token at once (attention_decode over its
//      cache slot); a sequence leaves the batch when it emits a stop id (kept in its output) or
//      has max_new_tokens tokens; its cache slot then takes the next waiting prompt, if any
//      (EngineOptions::max_sequences caps the slots; by default every prompt has one).
//
// Sampling: temperature 0 is greedy (argmax, lowest id on ties). Otherwise softmax(logits / T),
// then top_k (0 = off), then top_p over the renormalised rest (HF order), inverse-CDF with one
// uniform per token from the sequence's own RNG, seeded from (seed, sequence index): a sequence's
// tokens do not depend on which other sequences share the batch (with WeMask on, the mask
// selection does depend on the set of prompts' first tokens, as in the model's forward).
// Plain temperature sampling and greedy run on the device; top_k / top_p sample on the host.
//
// logprobs[t] = log softmax(logits / T)[token] with T = temperature (T = 1 when greedy), over the
// FULL vocabulary (top-k/top-p truncation not renormalised in): at temperature 1 (or greedy) it
// is the model's own log-probability of the token, what GRPO's old log-probs need. Logits are
// computed in fp32 from the model-dtype hidden state.
#pragma once
#include <cstdint>
#include <vector>

#include "model/qwen3.h"

namespace wm {

struct SamplingOptions {
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  uint64_t seed = 0;
  std::vector<int32_t> stop_ids;
};

struct Generation {
  std::vector<int32_t> tokens;  // generated ids, without the prompt (a final stop id included)
  std::vector<float> logprobs;  // one per token, see above
  bool stopped = false;         // ended on a stop id (else it reached max_new_tokens)
};

// Wall-clock split of one generate call (filled when EngineOptions::stats is set).
struct GenerationStats {
  double prefill_s = 0.0;          // prefill chunks, their sampling included
  double decode_s = 0.0;           // decode steps, their sampling included
  double decode_enqueue_s = 0.0;   // host time spent enqueuing the decode forwards (CUDA: asynchronous)
  int64_t prefill_chunks = 0, decode_steps = 0;
};

// Engine settings that do not change the results (on the CPU they are bit-identical).
struct EngineOptions {
  // Most sequences decoded at once (0 = all prompts). The KV cache holds this many slots of
  // (longest prompt + max_new_tokens - 1) positions: 2 * layers * kv_heads * head_dim * dtype bytes
  // per position. A finished sequence's slot is refilled with the next waiting prompt
  // (continuous batching).
  int64_t max_sequences = 0;
  // Replay each decode batch size's forward as a CUDA graph recorded on its first step (fewer
  // kernel launches; same kernels, same results; H100, 0.6B shape, 64 sequences: 3.3 ms per step
  // instead of 4.0). No effect on the CPU.
  bool cuda_graphs = true;
  GenerationStats* stats = nullptr;  // optional timing output
};

// Throws std::invalid_argument naming the prompt / option for empty prompts, ids outside the
// vocabulary and bad options.
std::vector<Generation> generate(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& options);
std::vector<Generation> generate(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& options, const EngineOptions& engine);

}  // namespace wm
