#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

constexpr int kIgnore = -100;

OwnedTensor targets_tensor(std::initializer_list<int32_t> t) {
  OwnedTensor out({static_cast<int64_t>(t.size())}, DType::I32);
  std::copy(t.begin(), t.end(), out.ptr<int32_t>());
  return out;
}

DType stat_of(DType dt) { return dt == DType::F64 ? DType::F64 : DType::F32; }

// loss_n = log(sum_j exp(x_nj)) - x_n,target in double.
std::vector<double> naive_losses(const Tensor& logits, const Tensor& targets) {
  const int64_t N = logits.size(0), V = logits.size(1);
  std::vector<double> out(N, 0.0);
  for (int64_t n = 0; n < N; ++n) {
    const int32_t t = targets.ptr<int32_t>()[n];
    if (t == kIgnore) continue;
    double m = -1e300, z = 0;
    for (int64_t j = 0; j < V; ++j) m = std::max(m, get(logits, n * V + j));
    for (int64_t j = 0; j < V; ++j) z += std::exp(get(logits, n * V + j) - m);
    out[n] = m + std::log(z) - get(logits, n * V + t);
  }
  return out;
}

TEST(CpuCrossEntropy, ForwardMatchesNaiveAndIgnoresRows) {
  std::mt19937 rng(71);
  for (DType dt : {DType::F64, DType::F32, DType::BF16}) {
    const int64_t V = 1001;
    OwnedTensor logits = random_tensor({4, V}, dt, rng, -8, 8);
    OwnedTensor targets = targets_tensor({3, kIgnore, 1000, 0});
    OwnedTensor losses({4}, stat_of(dt)), lse({4}, stat_of(dt));
    ops::cross_entropy_forward(losses, lse, logits, targets, kIgnore);
    const std::vector<double> ref = naive_losses(logits, targets);
    EXPECT_LT(testing::max_rel_error(testing::to_vector(losses), ref), dt == DType::F64 ? 1e-14 : 1e-6)
        << dtype_name(dt);
    EXPECT_EQ(get(losses, 1), 0.0);
    EXPECT_NEAR(get(lse, 0), get(losses, 0) + get(logits, 3), 1e-5);
  }
}

TEST(CpuCrossEntropy, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(72);
  const int64_t N = 5, V = 13;
  OwnedTensor logits = random_tensor({N, V}, DType::F64, rng, -3, 3);
  OwnedTensor targets = targets_tensor({12, 0, kIgnore, 5, 5});
  OwnedTensor dloss = random_tensor({N}, DType::F64, rng, 0.1, 2.0);  // per-token weights
  OwnedTensor losses({N}, DType::F64), lse({N}, DType::F64);
  auto loss = [&] {
    ops::cross_entropy_forward(losses, lse, logits, targets, kIgnore);
    return testing::dot(losses, dloss);
  };
  const std::vector<double> numeric = testing::numeric_gradient(logits, loss);
  loss();
  OwnedTensor dlogits({N, V}, DType::F64);
  ops::fill(dlogits, 5.0);
  ops::cross_entropy_backward(dlogits, logits, lse, targets, dloss, kIgnore);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dlogits), numeric), 1e-6);
  for (int64_t j = 0; j < V; ++j) EXPECT_EQ(get(dlogits, 2 * V + j), 0.0) << "ignored row has a gradient";
}

TEST(CpuCrossEntropy, BackwardInPlaceOverF32Logits) {
  std::mt19937 rng(73);
  const int64_t N = 3, V = 5003;  // long rows take the vectorised fp32 path
  OwnedTensor logits = random_tensor({N, V}, DType::F32, rng, -10, 10);
  OwnedTensor targets = targets_tensor({kIgnore, 17, 5002});
  OwnedTensor dloss({N}, DType::F32), losses({N}, DType::F32), lse({N}, DType::F32);
  ops::fill(dloss, 0.25);
  ops::cross_entropy_forward(losses, lse, logits, targets, kIgnore);
  const std::vector<double> x = testing::to_vector(logits);
  ops::cross_entropy_backward(logits, logits, lse, targets, dloss, kIgnore);
  for (int64_t n = 0; n < N; ++n) {
    const int32_t t = targets.ptr<int32_t>()[n];
    double m = -1e300, z = 0, row_sum = 0;
    for (int64_t j = 0; j < V; ++j) m = std::max(m, x[n * V + j]);
    for (int64_t j = 0; j < V; ++j) z += std::exp(x[n * V + j] - m);
    for (int64_t j = 0; j < V; ++j) {
      const double expected = t == kIgnore ? 0.0 : 0.25 * (std::exp(x[n * V + j] - m) / z - (j == t));
      ASSERT_NEAR(get(logits, n * V + j), expected, 1e-7) << n << "," << j;
      row_sum += get(logits, n * V + j);
    }
    EXPECT_NEAR(row_sum, 0.0, 1e-6);  // softmax - onehot sums to zero
  }
}

TEST(CpuCrossEntropy, Bf16LogitsAgreeWithF32) {
  std::mt19937 rng(74);
  OwnedTensor lb = random_tensor({3, 777}, DType::BF16, rng, -6, 6);
  OwnedTensor lf = testing::converted(lb, DType::F32);
  OwnedTensor targets = targets_tensor({5, 776, kIgnore});
  OwnedTensor lossb({3}, DType::F32), lseb({3}, DType::F32), lossf({3}, DType::F32), lsef({3}, DType::F32);
  ops::cross_entropy_forward(lossb, lseb, lb, targets, kIgnore);
  ops::cross_entropy_forward(lossf, lsef, lf, targets, kIgnore);
  EXPECT_LT(testing::max_rel_error(lossb, lossf), 1e-6);
  OwnedTensor dloss({3}, DType::F32), gb({3, 777}, DType::BF16), gf({3, 777}, DType::F32);
  ops::fill(dloss, 1.0);
  ops::cross_entropy_backward(gb, lb, lseb, targets, dloss, kIgnore);
  ops::cross_entropy_backward(gf, lf, lsef, targets, dloss, kIgnore);
  EXPECT_LT(testing::max_rel_error(gb, gf), 1.0 / 128);
}

TEST(CpuCrossEntropy, BadTargetsAndShapesThrow) {
  OwnedTensor logits({2, 10}, DType::F32), losses({2}, DType::F32), lse({2}, DType::F32);
  ops::fill(logits, 0.0);
  OwnedTensor big = targets_tensor({1, 10}), neg = targets_tensor({-1, 0});
  EXPECT_THROW(ops::cross_entropy_forward(losses, lse, logits, big, kIgnore), std::out_of_range);
  EXPECT_THROW(ops::cross_entropy_forward(losses, lse, logits, neg, kIgnore), std::out_of_range);
  OwnedTensor ok = targets_tensor({1, 9}), lse64({2}, DType::F64), three({3}, DType::F32);
  EXPECT_THROW(ops::cross_entropy_forward(losses, lse64, logits, ok, kIgnore), std::invalid_argument);
  EXPECT_THROW(ops::cross_entropy_forward(three, lse, logits, ok, kIgnore), std::invalid_argument);
  ops::cross_entropy_forward(losses, lse, logits, ok, kIgnore);
  EXPECT_NEAR(get(losses, 0), std::log(10.0), 1e-6);
}

// The fp32 exp used by the vectorised rows stays within a few ulp of std::exp.
TEST(CpuCrossEntropy, FastExpIsAccurate) {
  double worst = 0;
  for (float x = -86.0f; x < 88.0f; x += 0.0137f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(cpu::exp_fast(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(cpu::exp_fast(-200.0f), 0.0f);
  EXPECT_EQ(cpu::exp_fast(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(cpu::exp_fast(std::nanf(""))));
}

}  // namespace
}  // namespace wm
