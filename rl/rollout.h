// The rollout engine GRPO samples responses with: an adapter over model/generate.h (the KV-cache
// engine; prefill + batched decode on the policy's own weights and WeMask). Any engine with the
// same API (e.g. the no-cache reference model/naive_generate.h) plugs in by changing rollout.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "model/qwen3.h"

namespace wm::rl {

struct RolloutOptions {
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;  // 0: off
  uint64_t seed = 0;
  std::vector<int32_t> stop_ids;
};

struct RolloutSample {
  std::vector<int32_t> tokens;  // generated ids, a final stop id included
  bool stopped = false;         // ended on a stop id (else: max_new_tokens)
};

// Samples one response per prompt with the model's current weights (and its WeMask).
std::vector<RolloutSample> sample_responses(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                            const RolloutOptions& options);

// The name of the engine in use, for logs ("naive (no KV cache)" or "kv-cache").
const char* rollout_engine_name();

}  // namespace wm::rl
