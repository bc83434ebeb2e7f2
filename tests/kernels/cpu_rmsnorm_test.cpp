#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

constexpr float kEps = 1e-6f;

TEST(CpuRmsNorm, ForwardMatchesFormula) {
  std::mt19937 rng(21);
  const int64_t N = 5, d = 19;
  for (DType dt : {DType::F32, DType::F64}) {
    OwnedTensor x = random_tensor({N, d}, dt, rng, -2, 2), w = random_tensor({d}, dt, rng);
    OwnedTensor y({N, d}, dt), rstd({N}, dt == DType::F64 ? DType::F64 : DType::F32);
    ops::rmsnorm_forward(y, rstd, x, w, kEps);
    for (int64_t n = 0; n < N; ++n) {
      double ms = 0;
      for (int64_t j = 0; j < d; ++j) ms += get(x, n * d + j) * get(x, n * d + j) / d;
      const double r = 1 / std::sqrt(ms + kEps);
      EXPECT_NEAR(get(rstd, n), r, 1e-6 * r);
      for (int64_t j = 0; j < d; ++j)
        EXPECT_NEAR(get(y, n * d + j), get(w, j) * get(x, n * d + j) * r, 1e-6);
    }
  }
}

TEST(CpuRmsNorm, F32AgreesWithF64) {
  std::mt19937 rng(22);
  OwnedTensor x64 = random_tensor({7, 33}, DType::F64, rng), w64 = random_tensor({33}, DType::F64, rng);
  OwnedTensor x32 = testing::converted(x64, DType::F32), w32 = testing::converted(w64, DType::F32);
  OwnedTensor y64({7, 33}, DType::F64), r64({7}, DType::F64), y32({7, 33}, DType::F32), r32({7}, DType::F32);
  ops::rmsnorm_forward(y64, r64, x64, w64, kEps);
  ops::rmsnorm_forward(y32, r32, x32, w32, kEps);
  EXPECT_LT(testing::max_rel_error(y32, y64), 1e-6);
  EXPECT_LT(testing::max_rel_error(r32, r64), 1e-6);
}

// HF Qwen3: y = w * bf16(x * rstd) with rstd from fp32 statistics.
TEST(CpuRmsNorm, Bf16FollowsHfRounding) {
  std::mt19937 rng(23);
  const int64_t N = 3, d = 16;
  OwnedTensor x = random_tensor({N, d}, DType::BF16, rng, -3, 3), w = random_tensor({d}, DType::BF16, rng);
  OwnedTensor y({N, d}, DType::BF16), rstd({N}, DType::F32);
  ops::rmsnorm_forward(y, rstd, x, w, kEps);
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;  // squares of bf16 values are exact; the mean is rounded once to fp32
    for (int64_t j = 0; j < d; ++j) ss += get(x, n * d + j) * get(x, n * d + j);
    const float r = 1.0f / std::sqrt(static_cast<float>(ss / d) + kEps);
    EXPECT_NEAR(get(rstd, n), r, 1e-6f * r);
    for (int64_t j = 0; j < d; ++j) {
      const float normed = bf16_to_float(float_to_bf16(static_cast<float>(get(x, n * d + j)) * r));
      const float expected = bf16_to_float(float_to_bf16(static_cast<float>(get(w, j)) * normed));
      EXPECT_EQ(get(y, n * d + j), expected) << n << "," << j;
    }
  }
}

TEST(CpuRmsNorm, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(24);
  const int64_t N = 3, d = 7;
  OwnedTensor x = random_tensor({N, d}, DType::F64, rng, -2, 2), w = random_tensor({d}, DType::F64, rng, 0.5, 1.5);
  OwnedTensor r = random_tensor({N, d}, DType::F64, rng);
  OwnedTensor y({N, d}, DType::F64), rstd({N}, DType::F64);
  auto loss = [&] {
    ops::rmsnorm_forward(y, rstd, x, w, kEps);
    return testing::dot(y, r);
  };
  const std::vector<double> num_dx = testing::numeric_gradient(x, loss);
  const std::vector<double> num_dw = testing::numeric_gradient(w, loss);
  loss();  // fresh rstd for the current x
  OwnedTensor dx({N, d}, DType::F64);
  ops::fill(dx, 123.0);  // overwritten
  OwnedTensor dw = random_tensor({d}, DType::F64, rng);  // accumulated into
  const std::vector<double> dw0 = testing::to_vector(dw);
  ops::rmsnorm_backward(dx, dw, r, x, w, rstd);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dx), num_dx), 1e-6);
  std::vector<double> added(d);
  for (int64_t j = 0; j < d; ++j) added[j] = get(dw, j) - dw0[j];
  EXPECT_LT(testing::max_rel_error(added, num_dw), 1e-6);
  // accumulate_dx adds the gradient to what dx holds (the residual stream's gradient).
  const std::vector<double> first = testing::to_vector(dx);
  ops::rmsnorm_backward(dx, dw, r, x, w, rstd, /*accumulate_dx=*/true);
  std::vector<double> doubled(first.size());
  for (size_t i = 0; i < first.size(); ++i) doubled[i] = 2 * num_dx[i];
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dx), doubled), 1e-6);
}

TEST(CpuRmsNorm, F32DwIntoF32FromF32Backward) {
  std::mt19937 rng(25);
  const int64_t N = 4, d = 70;  // > 64 columns: two column blocks for dw
  OwnedTensor x = random_tensor({N, d}, DType::F32, rng), w = random_tensor({d}, DType::F32, rng);
  OwnedTensor dy = random_tensor({N, d}, DType::F32, rng);
  OwnedTensor y({N, d}, DType::F32), rstd({N}, DType::F32), dx({N, d}, DType::F32), dw({d}, DType::F32);
  ops::rmsnorm_forward(y, rstd, x, w, kEps);
  ops::zero(dw);
  ops::rmsnorm_backward(dx, dw, dy, x, w, rstd);
  for (int64_t j = 0; j < d; ++j) {
    double expected = 0;
    for (int64_t n = 0; n < N; ++n) expected += get(dy, n * d + j) * get(x, n * d + j) * get(rstd, n);
    EXPECT_NEAR(get(dw, j), expected, 1e-5);
  }
}

TEST(CpuRmsNorm, BadShapesThrow) {
  OwnedTensor x({3, 8}, DType::F32), y({3, 8}, DType::F32), w({7}, DType::F32), rstd({3}, DType::F32);
  EXPECT_THROW(ops::rmsnorm_forward(y, rstd, x, w, kEps), std::invalid_argument);
  OwnedTensor w8({8}, DType::F32), rstd64({3}, DType::F64), y64({3, 8}, DType::F64);
  EXPECT_THROW(ops::rmsnorm_forward(y, rstd64, x, w8, kEps), std::invalid_argument);
  EXPECT_THROW(ops::rmsnorm_forward(y64, rstd, x, w8, kEps), std::invalid_argument);
  EXPECT_NO_THROW(ops::rmsnorm_forward(y, rstd, x, w8, kEps));
}

}  // namespace
}  // namespace wm
