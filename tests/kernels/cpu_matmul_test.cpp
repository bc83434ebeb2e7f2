#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

OwnedTensor operand(int64_t rows, int64_t cols, bool trans, DType dt, std::mt19937& rng) {
  return trans ? random_tensor({cols, rows}, dt, rng) : random_tensor({rows, cols}, dt, rng);
}

// C = alpha op(A) op(B) + beta C0 in double.
std::vector<double> naive(const Tensor& a, const Tensor& b, const std::vector<double>& c0, int64_t M,
                          int64_t N, int64_t K, bool ta, bool tb, double alpha, double beta) {
  std::vector<double> c(M * N);
  const std::vector<double> av = testing::to_vector(a), bv = testing::to_vector(b);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += av[ta ? k * M + i : i * K + k] * bv[tb ? j * K + k : k * N + j];
      c[i * N + j] = alpha * s + beta * c0[i * N + j];
    }
  return c;
}

struct Dims { int64_t M, N, K; };

void check_all_transposes(DType ab, DType cdt, Dims d, double tol) {
  std::mt19937 rng(61);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      OwnedTensor a = operand(d.M, d.K, ta, ab, rng), b = operand(d.K, d.N, tb, ab, rng);
      OwnedTensor c = random_tensor({d.M, d.N}, cdt, rng);
      const std::vector<double> c0 = testing::to_vector(c);
      ops::matmul(c, a, b, ta, tb, 0.75f, -0.5f);
      const std::vector<double> ref = naive(a, b, c0, d.M, d.N, d.K, ta, tb, 0.75, -0.5);
      EXPECT_LT(testing::max_rel_error(testing::to_vector(c), ref), tol)
          << dtype_name(ab) << "->" << dtype_name(cdt) << " ta=" << ta << " tb=" << tb << " M=" << d.M
          << " N=" << d.N << " K=" << d.K;
    }
}

TEST(CpuMatmul, AllTransposesSmallOddSizes) {
  check_all_transposes(DType::F32, DType::F32, {7, 5, 3}, 1e-6);
  check_all_transposes(DType::F64, DType::F64, {7, 5, 3}, 1e-14);
  check_all_transposes(DType::F32, DType::F32, {1, 1, 1}, 1e-6);
}

// Sizes that cross every cache block (MC 96, NC 512, KC 256) and register tile edge.
TEST(CpuMatmul, AllTransposesAcrossBlocks) {
  check_all_transposes(DType::F32, DType::F32, {101, 530, 261}, 1e-5);
  check_all_transposes(DType::F64, DType::F64, {101, 530, 261}, 1e-13);
}

TEST(CpuMatmul, Bf16InputsIntoF32AndBf16) {
  // The reference reads the same bf16 values, so only accumulation and output rounding differ.
  check_all_transposes(DType::BF16, DType::F32, {13, 40, 70}, 1e-5);
  check_all_transposes(DType::BF16, DType::BF16, {13, 40, 70}, 1.0 / 128);
}

TEST(CpuMatmul, BetaZeroIgnoresOldC) {
  std::mt19937 rng(62);
  OwnedTensor a = random_tensor({4, 6}, DType::F32, rng), b = random_tensor({6, 3}, DType::F32, rng);
  OwnedTensor c({4, 3}, DType::F32);
  ops::fill(c, std::numeric_limits<double>::quiet_NaN());
  ops::matmul(c, a, b);
  EXPECT_FALSE(ops::has_nonfinite(c));
  const std::vector<double> ref = naive(a, b, std::vector<double>(12, 0.0), 4, 3, 6, false, false, 1, 0);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(c), ref), 1e-6);
}

TEST(CpuMatmul, EmptyInnerDimensionScalesC) {
  OwnedTensor a({3, 0}, DType::F32), b({0, 2}, DType::F32), c({3, 2}, DType::F32);
  ops::fill(c, 2.0);
  ops::matmul(c, a, b, false, false, 1.0f, 0.5f);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(get(c, i), 1.0);
}

TEST(CpuMatmul, F32AgreesWithF64) {
  std::mt19937 rng(63);
  OwnedTensor a64 = random_tensor({37, 300}, DType::F64, rng), b64 = random_tensor({45, 300}, DType::F64, rng);
  OwnedTensor a32 = testing::converted(a64, DType::F32), b32 = testing::converted(b64, DType::F32);
  OwnedTensor c64({37, 45}, DType::F64), c32({37, 45}, DType::F32);
  ops::linear_forward(c64, a64, b64);
  ops::linear_forward(c32, a32, b32);
  EXPECT_LT(testing::max_rel_error(c32, c64), 1e-6);
}

// The linear layer built on matmul: finite differences for dx (overwritten) and dW (accumulated).
TEST(CpuMatmul, LinearBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(64);
  const int64_t N = 5, in = 7, out = 3;
  OwnedTensor x = random_tensor({N, in}, DType::F64, rng), w = random_tensor({out, in}, DType::F64, rng);
  OwnedTensor r = random_tensor({N, out}, DType::F64, rng), y({N, out}, DType::F64);
  auto loss = [&] {
    ops::linear_forward(y, x, w);
    return testing::dot(y, r);
  };
  const std::vector<double> num_dx = testing::numeric_gradient(x, loss);
  const std::vector<double> num_dw = testing::numeric_gradient(w, loss);
  OwnedTensor dx({N, in}, DType::F64), dw = random_tensor({out, in}, DType::F64, rng);
  const std::vector<double> dw0 = testing::to_vector(dw);
  ops::linear_backward(dx, dw, r, x, w);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dx), num_dx), 1e-6);
  std::vector<double> added(dw0.size());
  for (size_t i = 0; i < added.size(); ++i) added[i] = get(dw, i) - dw0[i];
  EXPECT_LT(testing::max_rel_error(added, num_dw), 1e-6);
}

TEST(CpuMatmul, BadArgumentsThrow) {
  OwnedTensor a({4, 6}, DType::F32), b({5, 3}, DType::F32), c({4, 3}, DType::F32);
  EXPECT_THROW(ops::matmul(c, a, b), std::invalid_argument);  // K mismatch
  OwnedTensor b6({6, 3}, DType::F32), b64({6, 3}, DType::F64), c_bad({3, 4}, DType::F32);
  EXPECT_THROW(ops::matmul(c, a, b64), std::invalid_argument);  // dtype mismatch
  EXPECT_THROW(ops::matmul(c_bad, a, b6), std::invalid_argument);
  OwnedTensor c64({4, 3}, DType::F64);
  EXPECT_THROW(ops::matmul(c64, a, b6), std::invalid_argument);  // f32 inputs cannot write f64
  OwnedTensor sq({4, 4}, DType::F32);
  EXPECT_THROW(ops::matmul(sq, sq, sq), std::invalid_argument);  // aliasing
  OwnedTensor three_d({2, 2, 6}, DType::F32);
  EXPECT_THROW(ops::matmul(c, three_d, b6), std::invalid_argument);
  try {
    ops::matmul(c, a, b);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("f32[5,3] cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wm
