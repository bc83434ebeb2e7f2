#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

TEST(CpuSwiGlu, ForwardMatchesFormula) {
  std::mt19937 rng(51);
  const int64_t N = 4, F = 9;
  for (DType dt : {DType::F32, DType::F64}) {
    OwnedTensor gu = random_tensor({N, 2 * F}, dt, rng, -4, 4), out({N, F}, dt);
    ops::swiglu_forward(out, gu);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < F; ++f) {
        const double g = get(gu, n * 2 * F + f), u = get(gu, n * 2 * F + F + f);
        EXPECT_NEAR(get(out, n * F + f), g / (1 + std::exp(-g)) * u, 1e-6);
      }
  }
}

TEST(CpuSwiGlu, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(52);
  const int64_t N = 3, F = 5;
  OwnedTensor gu = random_tensor({N, 2 * F}, DType::F64, rng, -3, 3), out({N, F}, DType::F64);
  OwnedTensor r = random_tensor({N, F}, DType::F64, rng);
  auto loss = [&] {
    ops::swiglu_forward(out, gu);
    return testing::dot(out, r);
  };
  const std::vector<double> numeric = testing::numeric_gradient(gu, loss);
  OwnedTensor dgu({N, 2 * F}, DType::F64);
  ops::fill(dgu, 9.0);
  ops::swiglu_backward(dgu, r, gu);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dgu), numeric), 1e-6);
}

TEST(CpuSwiGlu, F32AgreesWithF64AndBadShapesThrow) {
  std::mt19937 rng(53);
  OwnedTensor gu64 = random_tensor({6, 22}, DType::F64, rng, -5, 5);
  OwnedTensor gu32 = testing::converted(gu64, DType::F32);
  OwnedTensor o64({6, 11}, DType::F64), o32({6, 11}, DType::F32);
  ops::swiglu_forward(o64, gu64);
  ops::swiglu_forward(o32, gu32);
  EXPECT_LT(testing::max_rel_error(o32, o64), 1e-6);
  OwnedTensor odd({6, 21}, DType::F32), wrong({6, 10}, DType::F32);
  EXPECT_THROW(ops::swiglu_forward(o32, odd), std::invalid_argument);
  EXPECT_THROW(ops::swiglu_forward(wrong, gu32), std::invalid_argument);
  OwnedTensor dgu({6, 22}, DType::F32);
  EXPECT_THROW(ops::swiglu_backward(dgu, wrong, gu32), std::invalid_argument);
}

}  // namespace
}  // namespace wm
