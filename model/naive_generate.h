// Slow reference decoding WITHOUT a KV cache: every new token re-runs the full forward over the
// whole sequence (O(n^2) work per sequence). Greedy or temperature/top-p sampling, any backend.
// Meant for evaluation of small runs and as a reference for the cached rollout engine.
#pragma once
#include <cstdint>
#include <vector>

#include "model/qwen3.h"

namespace wm {

struct NaiveSamplingOptions {
  int64_t max_new_tokens = 256;
  double temperature = 0.0;  // 0: greedy (argmax, lowest id on ties)
  double top_p = 1.0;        // nucleus sampling when temperature > 0
  uint64_t seed = 0;         // sequence i samples from seed + i
  std::vector<int32_t> stop_ids;  // e.g. <|im_end|>, <|endoftext|> (kept in the output)
};

struct NaiveGeneration {
  std::vector<int32_t> tokens;  // generated ids (without the prompt)
  bool stopped = false;         // ended on a stop id (else it hit max_new_tokens)
};

// Prompts are packed as separate documents into forwards of at most model.options().max_tokens
// tokens (and ~1 GiB of logits); a prompt + max_new_tokens longer than that throws std::invalid_argument naming it.
std::vector<NaiveGeneration> generate_without_cache(Qwen3Model& model,
                                                    const std::vector<std::vector<int32_t>>& prompts,
                                                    const NaiveSamplingOptions& options);

// The token picked from one row of logits (exposed for tests).
int32_t pick_token(const std::vector<double>& logits, double temperature, double top_p, uint64_t& rng_state);

}  // namespace wm
