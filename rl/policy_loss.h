// GRPO/PPO policy loss on per-token log-probabilities, computed on the host.
//
// For each response token t of sequence s (mask m = 1):
//   r      = exp(logp - old_logp)
//   pg     = max(-A_s r, -A_s clip(r, 1 - clip_low, 1 + clip_high))      (PPO clip; DAPO clip-higher)
//   kl     = estimator(logp, ref_logp)                                    (only when kl_coef > 0)
//   l_t    = pg + kl_coef * kl
// and the loss aggregates l_t over tokens (see LossAggregation).
//
// The model trains on -logp (cross-entropy) with per-token weights, so the result includes
// dloss/dlogp_t for every token: the model's backward takes weight_t = -dloss/dlogp_t.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wm::rl {

enum class KlEstimator { K1, K2, K3 };  // K3 is verl's "low_var_kl" (clamped to [-10, 10])
enum class LossAggregation { TokenMean, SeqMeanTokenMean, SeqMeanTokenSumNorm };

KlEstimator parse_kl_estimator(const std::string& name);          // k1 | k2 | k3 | low_var_kl
LossAggregation parse_loss_aggregation(const std::string& name);  // token-mean | seq-mean-token-mean | seq-mean-token-sum-norm

struct PolicyLossOptions {
  float clip_low = 0.2f;
  float clip_high = 0.2f;
  float kl_coef = 0.0f;
  KlEstimator kl_estimator = KlEstimator::K3;
  LossAggregation aggregation = LossAggregation::TokenMean;
  // SeqMeanTokenSumNorm divides each sequence's token sum by this constant (Dr. GRPO uses the
  // maximum response length); 0 means "the longest sequence in the batch".
  int64_t norm_length = 0;
};

// A batch of sequences, token-major: seq_offsets has num_seqs + 1 entries; sequence s owns tokens
// [seq_offsets[s], seq_offsets[s+1]). mask selects the tokens that count (response tokens).
struct PolicyLossInput {
  std::span<const float> logp;
  std::span<const float> old_logp;
  std::span<const float> ref_logp;  // may be empty when kl_coef == 0
  std::span<const float> mask;
  std::span<const float> advantages;  // one per sequence
  std::span<const int64_t> seq_offsets;
};

struct PolicyLossResult {
  double loss = 0;
  std::vector<float> dloss_dlogp;  // one per token (0 where mask == 0)
  double clip_fraction = 0;        // share of counted tokens whose ratio was clipped
  double kl_mean = 0;              // token-mean of the KL estimate over counted tokens
  double ratio_mean = 0;
};

// Per-token value and derivative of the chosen KL estimator with respect to logp.
struct KlValue {
  double value, dlogp;
};
KlValue kl_estimate(KlEstimator est, double logp, double ref_logp);

PolicyLossResult policy_loss(const PolicyLossInput& in, const PolicyLossOptions& opt);

}  // namespace wm::rl
