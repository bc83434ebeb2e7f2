// Hand-computed checks of GRPO advantages, the clipped policy loss, KL estimators and each
// loss-aggregation mode.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rl/advantages.h"
#include "rl/policy_loss.h"

namespace wm::rl {
namespace {

TEST(GrpoAdvantages, GroupNormalised) {
  // Group 1: rewards 1,0,0,1 -> mean 0.5, unbiased std sqrt(1/3) = 0.57735.
  // Group 2: all equal -> advantages 0 (no NaN).
  std::vector<float> r = {1, 0, 0, 1, 2, 2, 2, 2};
  auto a = group_advantages(r, {.group_size = 4, .scale_rewards = true, .eps = 0});
  const double s = std::sqrt(1.0 / 3.0);
  EXPECT_NEAR(a[0], 0.5 / s, 1e-6);
  EXPECT_NEAR(a[1], -0.5 / s, 1e-6);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(a[i], 0.0f);
}

TEST(GrpoAdvantages, DrGrpoDoesNotScale) {
  std::vector<float> r = {3, 1};
  auto a = group_advantages(r, {.group_size = 2, .scale_rewards = false});
  EXPECT_FLOAT_EQ(a[0], 1.0f);
  EXPECT_FLOAT_EQ(a[1], -1.0f);
  EXPECT_THROW(group_advantages(std::vector<float>{1, 2, 3}, {.group_size = 2}), std::invalid_argument);
}

TEST(GrpoKl, EstimatorsMatchFormulas) {
  const double lp = -1.0, ref = -1.5;  // log ratio d = 0.5
  EXPECT_NEAR(kl_estimate(KlEstimator::K1, lp, ref).value, 0.5, 1e-12);
  EXPECT_NEAR(kl_estimate(KlEstimator::K2, lp, ref).value, 0.125, 1e-12);
  EXPECT_NEAR(kl_estimate(KlEstimator::K2, lp, ref).dlogp, 0.5, 1e-12);
  // k3 = e^{-0.5} + 0.5 - 1 = 0.1065306597
  EXPECT_NEAR(kl_estimate(KlEstimator::K3, lp, ref).value, 0.10653065971263342, 1e-12);
  EXPECT_NEAR(kl_estimate(KlEstimator::K3, lp, ref).dlogp, 1 - std::exp(-0.5), 1e-12);
  // Clamped at 10 with zero gradient.
  auto big = kl_estimate(KlEstimator::K3, -20.0, 0.0);
  EXPECT_EQ(big.value, 10.0);
  EXPECT_EQ(big.dlogp, 0.0);
  // Derivatives agree with finite differences.
  for (auto e : {KlEstimator::K1, KlEstimator::K2, KlEstimator::K3}) {
    const double h = 1e-6;
    double fd = (kl_estimate(e, lp + h, ref).value - kl_estimate(e, lp - h, ref).value) / (2 * h);
    EXPECT_NEAR(kl_estimate(e, lp, ref).dlogp, fd, 1e-6);
  }
  EXPECT_THROW(parse_kl_estimator("k4"), std::invalid_argument);
  EXPECT_EQ(parse_kl_estimator("low_var_kl"), KlEstimator::K3);
}

// Two sequences: seq 0 has 2 counted tokens (+1 masked), seq 1 has 1 token.
struct Fixture {
  std::vector<float> logp = {std::log(1.5f), 0.0f, -1.0f, std::log(0.5f)};
  std::vector<float> old_logp = {0.0f, 0.0f, -1.0f, 0.0f};
  std::vector<float> mask = {1, 1, 0, 1};
  std::vector<float> adv = {2.0f, -1.0f};
  std::vector<int64_t> offsets = {0, 3, 4};
  PolicyLossInput input() const { return {logp, old_logp, {}, mask, adv, offsets}; }
};

TEST(GrpoPolicyLoss, ClippedSurrogateTokenMean) {
  Fixture f;
  // seq 0 (A=2): token 0 ratio 1.5 > 1.2 -> clipped: -2*1.2 = -2.4, grad 0.
  //              token 1 ratio 1   -> -2, dl/dlogp = -2.
  // seq 1 (A=-1): token 3 ratio 0.5 < 0.8 -> max(0.5, 0.8) = 0.8 clipped: loss 0.8, grad 0.
  auto r = policy_loss(f.input(), {.clip_low = 0.2f, .clip_high = 0.2f});
  EXPECT_NEAR(r.loss, (-2.4 - 2.0 + 0.8) / 3.0, 1e-6);
  EXPECT_NEAR(r.dloss_dlogp[0], 0.0, 1e-7);
  EXPECT_NEAR(r.dloss_dlogp[1], -2.0 / 3.0, 1e-6);
  EXPECT_EQ(r.dloss_dlogp[2], 0.0f);
  EXPECT_NEAR(r.dloss_dlogp[3], 0.0, 1e-7);
  EXPECT_NEAR(r.clip_fraction, 2.0 / 3.0, 1e-9);
}

TEST(GrpoPolicyLoss, ClipHigherLetsRatioGrow) {
  Fixture f;
  // clip_high 0.28 (DAPO): ratio 1.5 still clipped at 1.28 -> -2.56.
  auto r = policy_loss(f.input(), {.clip_low = 0.2f, .clip_high = 0.28f});
  EXPECT_NEAR(r.loss, (-2.56 - 2.0 + 0.8) / 3.0, 1e-6);
  // clip_high 0.6: ratio 1.5 inside -> -3, grad -3 * 1/3.
  auto r2 = policy_loss(f.input(), {.clip_low = 0.2f, .clip_high = 0.6f});
  EXPECT_NEAR(r2.loss, (-3.0 - 2.0 + 0.8) / 3.0, 1e-6);
  EXPECT_NEAR(r2.dloss_dlogp[0], -1.0, 1e-6);
}

TEST(GrpoPolicyLoss, AggregationModes) {
  Fixture f;
  PolicyLossOptions o{.clip_low = 0.2f, .clip_high = 0.6f};
  // Per-token losses: -3, -2 (seq 0, 2 tokens), 0.8 (seq 1, 1 token).
  o.aggregation = LossAggregation::SeqMeanTokenMean;
  auto a = policy_loss(f.input(), o);
  EXPECT_NEAR(a.loss, ((-3.0 - 2.0) / 2 + 0.8) / 2, 1e-6);
  EXPECT_NEAR(a.dloss_dlogp[1], -2.0 / 4, 1e-6);
  o.aggregation = LossAggregation::SeqMeanTokenSumNorm;
  o.norm_length = 4;
  auto b = policy_loss(f.input(), o);
  EXPECT_NEAR(b.loss, ((-3.0 - 2.0) / 4 + 0.8 / 4) / 2, 1e-6);
  o.norm_length = 0;  // longest counted sequence: 2
  auto c = policy_loss(f.input(), o);
  EXPECT_NEAR(c.loss, ((-3.0 - 2.0) / 2 + 0.8 / 2) / 2, 1e-6);
  EXPECT_THROW(parse_loss_aggregation("mean"), std::invalid_argument);
}

TEST(GrpoPolicyLoss, KlTermAndGradientMatchFiniteDifferences) {
  Fixture f;
  std::vector<float> ref = {-0.3f, 0.2f, 0.0f, -0.4f};
  PolicyLossOptions o{.clip_low = 0.2f, .clip_high = 0.6f, .kl_coef = 0.1f,
                      .kl_estimator = KlEstimator::K3};
  PolicyLossInput in = f.input();
  in.ref_logp = ref;
  auto r = policy_loss(in, o);
  for (int t : {0, 1, 3}) {
    const float h = 1e-3f;
    std::vector<float> lp = f.logp;
    lp[t] += h;
    in.logp = lp;
    double up = policy_loss(in, o).loss;
    lp[t] -= 2 * h;
    in.logp = lp;
    double down = policy_loss(in, o).loss;
    EXPECT_NEAR(r.dloss_dlogp[t], (up - down) / (2 * h), 2e-4) << "token " << t;
  }
  EXPECT_GT(r.kl_mean, 0.0);
}

}  // namespace
}  // namespace wm::rl
