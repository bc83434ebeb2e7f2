#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

OwnedTensor positions(std::initializer_list<int32_t> p) {
  OwnedTensor t({static_cast<int64_t>(p.size())}, DType::I32);
  std::copy(p.begin(), p.end(), t.ptr<int32_t>());
  return t;
}

// The HF formula, written out independently: fp32 inv_freq and angle, rotate-half.
TEST(CpuRope, ForwardMatchesHfFormula) {
  std::mt19937 rng(31);
  const int64_t T = 4, H = 3, D = 10;
  const float theta = 1000000.0f;
  OwnedTensor pos = positions({0, 1, 7, 4000});
  OwnedTensor x = random_tensor({T, H, D}, DType::F32, rng);
  const std::vector<double> x0 = testing::to_vector(x);
  ops::rope_forward(x, pos, theta);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < D / 2; ++i) {
        const float inv_freq = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(D));
        const float angle = static_cast<float>(pos.ptr<int32_t>()[t]) * inv_freq;
        const double c = std::cos(angle), s = std::sin(angle);
        const int64_t base = (t * H + h) * D;
        const double a = x0[base + i], b = x0[base + i + D / 2];
        EXPECT_NEAR(get(x, base + i), a * c - b * s, 1e-6);
        EXPECT_NEAR(get(x, base + i + D / 2), b * c + a * s, 1e-6);
      }
}

TEST(CpuRope, BackwardInvertsForwardAndKeepsNorms) {
  std::mt19937 rng(32);
  OwnedTensor pos = positions({3, 0, 99, 12, 5});
  OwnedTensor x = random_tensor({5, 2, 8}, DType::F64, rng);
  const std::vector<double> x0 = testing::to_vector(x);
  ops::rope_forward(x, pos, 10000.0f);
  EXPECT_NEAR(ops::sum_squares(x), [&] { double s = 0; for (double v : x0) s += v * v; return s; }(), 1e-12);
  EXPECT_GT(testing::max_rel_error(testing::to_vector(x), x0), 1e-3);  // it did rotate
  ops::rope_backward(x, pos, 10000.0f);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(x), x0), 1e-14);
}

TEST(CpuRope, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(33);
  OwnedTensor pos = positions({2, 9, 0});
  OwnedTensor x = random_tensor({3, 3, 6}, DType::F64, rng);
  OwnedTensor r = random_tensor({3, 3, 6}, DType::F64, rng);
  OwnedTensor y({3, 3, 6}, DType::F64);
  auto loss = [&] {
    ops::copy(y, x);
    ops::rope_forward(y, pos, 10000.0f);
    return testing::dot(y, r);
  };
  const std::vector<double> numeric = testing::numeric_gradient(x, loss);
  OwnedTensor dx({3, 3, 6}, DType::F64);
  ops::copy(dx, r);
  ops::rope_backward(dx, pos, 10000.0f);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dx), numeric), 1e-6);
}

TEST(CpuRope, F32AgreesWithF64) {
  std::mt19937 rng(34);
  OwnedTensor pos = positions({1, 17, 250});
  OwnedTensor x64 = random_tensor({3, 2, 16}, DType::F64, rng);
  OwnedTensor x32 = testing::converted(x64, DType::F32);
  ops::rope_forward(x64, pos, 10000.0f);
  ops::rope_forward(x32, pos, 10000.0f);
  // fp32 angles (as HF) differ from fp64 ones by ~pos * 6e-8 rad.
  EXPECT_LT(testing::max_rel_error(x32, x64), 1e-4);
}

TEST(CpuRope, BadInputsThrow) {
  OwnedTensor odd({2, 1, 5}, DType::F32), pos2 = positions({0, 1}), pos3 = positions({0, 1, 2});
  EXPECT_THROW(ops::rope_forward(odd, pos2, 10000.0f), std::invalid_argument);
  OwnedTensor x({2, 1, 4}, DType::F32);
  EXPECT_THROW(ops::rope_forward(x, pos3, 10000.0f), std::invalid_argument);
  OwnedTensor flat({2, 4}, DType::F32);
  EXPECT_THROW(ops::rope_forward(flat, pos2, 10000.0f), std::invalid_argument);
}

}  // namespace
}  // namespace wm
