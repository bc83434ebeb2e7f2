// Prompt + response sequences as one model batch: every sequence is its own document in a single
// packed row, and only the response tokens are targets. Maps between the model's per-position
// token losses (-log p) and the per-response-token log-probs the GRPO loss works on.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/batch.h"

namespace wm::rl {

struct SequenceBatch {
  HostBatch host;                   // [1, T]; targets are the response tokens only
  std::vector<int64_t> target_row;  // per response token (sequence-major): the position t predicting it
  std::vector<int64_t> seq_offsets; // num_seqs + 1 offsets into the response tokens
  int64_t num_seqs() const { return static_cast<int64_t>(seq_offsets.size()) - 1; }
  int64_t response_tokens() const { return seq_offsets.back(); }
};

// prompts[i] + responses[i] for each i (both non-empty). Throws std::invalid_argument naming i.
SequenceBatch build_sequence_batch(const std::vector<std::span<const int32_t>>& prompts,
                                   const std::vector<std::span<const int32_t>>& responses, int32_t pad_id = 0);

// log p of each response token from a forward's token losses [T] (= -log p(target)).
std::vector<float> response_logp(const SequenceBatch& batch, const std::vector<double>& token_loss);

// d objective / d token_loss [T] from d objective / d logp per response token (logp = -token_loss).
std::vector<float> token_loss_grad(const SequenceBatch& batch, std::span<const float> dloss_dlogp, double scale = 1.0);

}  // namespace wm::rl
