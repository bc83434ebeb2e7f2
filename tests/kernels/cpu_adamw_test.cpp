#include <gtest/gtest.h>

#include <random>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::set;

struct State {
  OwnedTensor p{{2}, DType::F32}, m{{2}, DType::F32}, v{{2}, DType::F32};
};

AdamWParams params(int64_t step) {
  AdamWParams hp;
  hp.lr = 1e-2f;
  hp.beta1 = 0.9f;
  hp.beta2 = 0.999f;
  hp.eps = 1e-8f;
  hp.weight_decay = 0.1f;
  hp.step = step;
  return hp;
}

// Expected values computed by hand (python, double precision) from the documented formula:
//   g = grad * scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
//   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + lr * wd * p
TEST(CpuAdamW, MatchesHandComputedStep) {
  State s;
  OwnedTensor grad({2}, DType::F32);
  // element 0: p 0.5, m 0.1, v 0.04, grad 0.4 (scaled by 0.5), step 3
  set(s.p, 0, 0.5); set(s.m, 0, 0.1); set(s.v, 0, 0.04); set(grad, 0, 0.4);
  // element 1: p -1, fresh state, grad -3
  set(s.p, 1, -1.0); set(s.m, 1, 0.0); set(s.v, 1, 0.0); set(grad, 1, -3.0);
  ops::adamw_update(s.p, grad, s.m, s.v, params(3), 0.5f);
  EXPECT_NEAR(get(s.m, 0), 0.11, 1e-7);
  EXPECT_NEAR(get(s.v, 0), 0.04, 1e-7);
  EXPECT_NEAR(get(s.p, 0), 0.4983889417171269, 1e-6);

  // A fresh state at step 1 moves by ~lr against the gradient's sign, plus the decay.
  State f;
  set(f.p, 0, -1.0); set(f.p, 1, -1.0);
  ops::zero(f.m);
  ops::zero(f.v);
  OwnedTensor g1({2}, DType::F32);
  ops::fill(g1, -3.0);
  ops::adamw_update(f.p, g1, f.m, f.v, params(1), 0.5f);
  EXPECT_NEAR(get(f.m, 0), -0.15, 1e-7);
  EXPECT_NEAR(get(f.v, 0), 0.00225, 1e-7);  // fp32 betas: 1 - 0.999f is not exactly 1e-3
  EXPECT_NEAR(get(f.p, 0), -0.9890000000666667, 1e-6);
}

TEST(CpuAdamW, Bf16GradientMatchesF32Gradient) {
  std::mt19937 rng(81);
  const int64_t n = 33;
  OwnedTensor gb = testing::random_tensor({n}, DType::BF16, rng);
  OwnedTensor gf = testing::converted(gb, DType::F32);  // the same values exactly
  OwnedTensor p1 = testing::random_tensor({n}, DType::F32, rng), m1({n}, DType::F32), v1({n}, DType::F32);
  OwnedTensor p2 = testing::converted(p1, DType::F32), m2({n}, DType::F32), v2({n}, DType::F32);
  for (const Tensor& t : {m1.t(), v1.t(), m2.t(), v2.t()}) ops::zero(t);
  ops::adamw_update(p1, gb, m1, v1, params(2), 2.0f);
  ops::adamw_update(p2, gf, m2, v2, params(2), 2.0f);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(get(p1, i), get(p2, i));
}

TEST(CpuAdamW, WeightsCopyEqualsConvertOfMaster) {
  std::mt19937 rng(82);
  const int64_t n = 17;
  OwnedTensor g = testing::random_tensor({n}, DType::F32, rng);
  OwnedTensor p = testing::random_tensor({n}, DType::F32, rng), m({n}, DType::F32), v({n}, DType::F32);
  ops::zero(m);
  ops::zero(v);
  OwnedTensor w({n}, DType::BF16), w_ref({n}, DType::BF16);
  ops::adamw_update(p, g, m, v, params(1), 1.0f, w);
  ops::convert(w_ref, p);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(get(w, i), get(w_ref, i));
  OwnedTensor short_w({n - 1}, DType::BF16);
  EXPECT_THROW(ops::adamw_update(p, g, m, v, params(2), 1.0f, short_w), std::invalid_argument);
}

TEST(CpuAdamW, BadArgumentsThrow) {
  State s;
  OwnedTensor grad({3}, DType::F32), p64({2}, DType::F64), g2({2}, DType::F32);
  EXPECT_THROW(ops::adamw_update(s.p, grad, s.m, s.v, params(1)), std::invalid_argument);
  EXPECT_THROW(ops::adamw_update(p64, g2, s.m, s.v, params(1)), std::invalid_argument);
  EXPECT_THROW(ops::adamw_update(s.p, g2, s.m, s.v, params(0)), std::invalid_argument);
}

}  // namespace
}  // namespace wm
