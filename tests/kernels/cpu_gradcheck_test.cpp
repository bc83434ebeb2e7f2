// Self-test of tests/testing/gradcheck.h: the helpers must catch a wrong gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

TEST(CpuGradcheck, NumericGradientOfKnownFunction) {
  std::mt19937 rng(101);
  OwnedTensor x = testing::random_tensor({4, 3}, DType::F64, rng);
  auto loss = [&] {  // L = sum sin(x_i) * i
    double s = 0;
    for (int64_t i = 0; i < 12; ++i) s += std::sin(testing::get(x, i)) * i;
    return s;
  };
  const std::vector<double> x0 = testing::to_vector(x);
  const std::vector<double> num = testing::numeric_gradient(x, loss);
  std::vector<double> exact(12), wrong(12);
  for (int64_t i = 0; i < 12; ++i) {
    exact[i] = std::cos(x0[i]) * i;
    wrong[i] = exact[i] * (i == 7 ? 1.001 : 1.0);
  }
  EXPECT_LT(testing::max_rel_error(num, exact), 1e-8);
  EXPECT_GT(testing::max_rel_error(wrong, num), 1e-4);
  EXPECT_EQ(testing::to_vector(x), x0);  // x restored
}

TEST(CpuGradcheck, SeededFillsAreReproducibleAndNonZero) {
  std::mt19937 a(5), b(5);
  OwnedTensor x = testing::random_tensor({50}, DType::F32, a, 1, 2);
  OwnedTensor y = testing::random_tensor({50}, DType::F32, b, 1, 2);
  EXPECT_EQ(testing::to_vector(x), testing::to_vector(y));
  for (double v : testing::to_vector(x)) EXPECT_GE(v, 1.0);
  OwnedTensor f32({3}, DType::F32);
  EXPECT_THROW(testing::numeric_gradient(f32, [] { return 0.0; }), std::invalid_argument);
}

}  // namespace
}  // namespace wm
