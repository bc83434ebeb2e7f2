// Host-side pieces of sampling: the per-sequence random stream and top-k / top-p sampling of one
// row of logits (the device op sample_tokens covers greedy and plain temperature sampling).
#pragma once
#include <cstdint>
#include <random>
#include <span>

namespace wm {

// Sequence `index` of a generate call with `seed` draws from its own stream.
class SequenceRng {
 public:
  SequenceRng(uint64_t seed, uint64_t index);
  float uniform();  // in [0, 1), a multiple of 2^-24 (exact in fp32)

 private:
  std::mt19937_64 engine_;
};

struct SampledToken {
  int32_t id = 0;
  float logprob = 0.0f;  // log softmax(logits / temperature)[id] over the full row
};

// temperature > 0; top_k 0 = off; top_p in (0, 1]. Keeps the top_k most likely tokens (ties:
// lower id first), then the smallest prefix of those whose renormalised mass reaches top_p, and
// picks by inverse CDF in that order at u * (kept mass).
SampledToken sample_truncated(std::span<const float> logits, double temperature, int64_t top_k, double top_p,
                              float u);

}  // namespace wm
