#include "rl/policy_loss.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace wm::rl {

KlEstimator parse_kl_estimator(const std::string& name) {
  if (name == "k1" || name == "kl") return KlEstimator::K1;
  if (name == "k2" || name == "mse") return KlEstimator::K2;
  if (name == "k3" || name == "low_var_kl") return KlEstimator::K3;
  throw std::invalid_argument("unknown KL estimator '" + name + "' (k1, k2, k3, low_var_kl)");
}

LossAggregation parse_loss_aggregation(const std::string& name) {
  if (name == "token-mean") return LossAggregation::TokenMean;
  if (name == "seq-mean-token-mean") return LossAggregation::SeqMeanTokenMean;
  if (name == "seq-mean-token-sum-norm") return LossAggregation::SeqMeanTokenSumNorm;
  throw std::invalid_argument("unknown loss aggregation '" + name +
                              "' (token-mean, seq-mean-token-mean, seq-mean-token-sum-norm)");
}

KlValue kl_estimate(KlEstimator est, double logp, double ref_logp) {
  const double d = logp - ref_logp;  // log(pi / pi_ref)
  switch (est) {
    case KlEstimator::K1: return {d, 1.0};
    case KlEstimator::K2: return {0.5 * d * d, d};
    case KlEstimator::K3: {
      // k3 = exp(ref - logp) - (ref - logp) - 1, clamped as verl's low_var_kl does.
      const double x = -d;
      const double v = std::exp(x) - x - 1.0;
      if (v > 10.0) return {10.0, 0.0};
      return {v, -std::exp(x) + 1.0};
    }
  }
  throw std::invalid_argument("kl_estimate: bad estimator");
}

PolicyLossResult policy_loss(const PolicyLossInput& in, const PolicyLossOptions& opt) {
  const size_t n = in.logp.size();
  if (in.old_logp.size() != n || in.mask.size() != n)
    throw std::invalid_argument("policy_loss: logp, old_logp and mask must have the same length");
  if (opt.kl_coef > 0 && in.ref_logp.size() != n)
    throw std::invalid_argument("policy_loss: kl_coef > 0 needs ref_logp for every token");
  if (in.seq_offsets.empty() || in.seq_offsets.front() != 0 ||
      in.seq_offsets.back() != static_cast<int64_t>(n))
    throw std::invalid_argument("policy_loss: seq_offsets must run from 0 to the token count");
  const size_t num_seqs = in.seq_offsets.size() - 1;
  if (in.advantages.size() != num_seqs)
    throw std::invalid_argument("policy_loss: one advantage per sequence is needed");

  // Per-token loss weight c_t such that loss = sum_t c_t * l_t.
  std::vector<double> coef(n, 0.0);
  double counted_total = 0;
  int64_t longest = 0;
  for (size_t s = 0; s < num_seqs; ++s) {
    double counted = 0;
    for (int64_t t = in.seq_offsets[s]; t < in.seq_offsets[s + 1]; ++t) counted += in.mask[t];
    counted_total += counted;
    longest = std::max<int64_t>(longest, static_cast<int64_t>(counted));
  }
  const double norm_len = opt.norm_length > 0 ? static_cast<double>(opt.norm_length) : std::max<double>(1, longest);
  for (size_t s = 0; s < num_seqs; ++s) {
    double counted = 0;
    for (int64_t t = in.seq_offsets[s]; t < in.seq_offsets[s + 1]; ++t) counted += in.mask[t];
    for (int64_t t = in.seq_offsets[s]; t < in.seq_offsets[s + 1]; ++t) {
      double c = 0;
      switch (opt.aggregation) {
        case LossAggregation::TokenMean: c = counted_total > 0 ? 1.0 / counted_total : 0; break;
        case LossAggregation::SeqMeanTokenMean:
          c = counted > 0 ? 1.0 / (counted * static_cast<double>(num_seqs)) : 0;
          break;
        case LossAggregation::SeqMeanTokenSumNorm:
          c = 1.0 / (norm_len * static_cast<double>(num_seqs));
          break;
      }
      coef[t] = c * in.mask[t];
    }
  }

  PolicyLossResult r;
  r.dloss_dlogp.assign(n, 0.0f);
  double clipped = 0, kl_sum = 0, ratio_sum = 0;
  for (size_t s = 0; s < num_seqs; ++s) {
    const double a = in.advantages[s];
    for (int64_t t = in.seq_offsets[s]; t < in.seq_offsets[s + 1]; ++t) {
      if (in.mask[t] == 0) continue;
      const double ratio = std::exp(static_cast<double>(in.logp[t]) - in.old_logp[t]);
      const double lo = 1.0 - opt.clip_low, hi = 1.0 + opt.clip_high;
      const double unclipped = -a * ratio;
      const double clipped_ratio = std::clamp(ratio, lo, hi);
      const double clipped_term = -a * clipped_ratio;
      // The max picks the clipped branch (zero gradient) only when it is strictly larger.
      const bool use_clipped = clipped_term > unclipped;
      double l = use_clipped ? clipped_term : unclipped;
      double dl = use_clipped ? 0.0 : -a * ratio;  // d(-a r)/dlogp = -a r
      if (use_clipped) clipped += in.mask[t];
      if (opt.kl_coef > 0) {
        KlValue kl = kl_estimate(opt.kl_estimator, in.logp[t], in.ref_logp[t]);
        l += opt.kl_coef * kl.value;
        dl += opt.kl_coef * kl.dlogp;
        kl_sum += kl.value * in.mask[t];
      }
      r.loss += coef[t] * l;
      r.dloss_dlogp[t] = static_cast<float>(coef[t] * dl);
      ratio_sum += ratio * in.mask[t];
    }
  }
  if (counted_total > 0) {
    r.clip_fraction = clipped / counted_total;
    r.kl_mean = kl_sum / counted_total;
    r.ratio_mean = ratio_sum / counted_total;
  }
  return r;
}

}  // namespace wm::rl
