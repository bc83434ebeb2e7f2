// CUDA (cuBLASLt) matmul against the CPU reference: all trans combinations, bf16 and f32 outputs,
// alpha/beta accumulation, f32 inputs.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA

namespace wm {
namespace {

using namespace cudatest;

// C[M,N] = op(A) op(B): M = 256 tokens, N = 1024 (hidden), K = 768.
constexpr int64_t M = 256, N = 1024, K = 768;

TEST(CudaMatmul, AllTransposesBf16) {
  WM_REQUIRE_CUDA();
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const OwnedTensor a = ta ? random_host({K, M}, DType::BF16, 10) : random_host({M, K}, DType::BF16, 10);
      const OwnedTensor b = tb ? random_host({N, K}, DType::BF16, 11) : random_host({K, N}, DType::BF16, 11);
      const OwnedTensor da = to_device(a), db = to_device(b);
      // bf16 output (tolerance: bf16 rounding of the result, ~2^-9 relative per element).
      OwnedTensor c_cpu({M, N}, DType::BF16);
      OwnedTensor c_gpu({M, N}, DType::BF16, Device::CUDA);
      ops::matmul(c_cpu, a, b, ta, tb);
      ops::matmul(c_gpu, da, db, ta, tb);
      EXPECT_LT(rel_err(c_gpu, c_cpu), 4e-3) << "bf16 out, trans " << ta << tb;
      // f32 output accumulated onto a non-zero C with alpha, beta (tolerance: summation order).
      const OwnedTensor c0 = random_host({M, N}, DType::F32, 12);
      OwnedTensor f_cpu = clone_host(c0);
      OwnedTensor f_gpu = to_device(c0);
      ops::matmul(f_cpu, a, b, ta, tb, 0.5f, 1.0f);
      ops::matmul(f_gpu, da, db, ta, tb, 0.5f, 1.0f);
      EXPECT_LT(rel_err(f_gpu, f_cpu), 1e-5) << "f32 out, trans " << ta << tb;
    }
  }
}

TEST(CudaMatmul, LinearBackwardAccumulatesAndF32Inputs) {
  WM_REQUIRE_CUDA();
  // y = x W^T; dW += dy^T x onto an existing bf16 gradient.
  const OwnedTensor x = random_host({M, K}, DType::BF16, 20), w = random_host({N, K}, DType::BF16, 21);
  const OwnedTensor dy = random_host({M, N}, DType::BF16, 22), dw0 = random_host({N, K}, DType::BF16, 23);
  OwnedTensor dw_cpu = clone_host(dw0), dw_gpu = to_device(dw0);
  OwnedTensor dx_cpu({M, K}, DType::BF16), dx_gpu({M, K}, DType::BF16, Device::CUDA);
  ops::linear_backward(dx_cpu, dw_cpu, dy, x, w);
  ops::linear_backward(dx_gpu, dw_gpu, to_device(dy), to_device(x), to_device(w));
  EXPECT_LT(rel_err(dx_gpu, dx_cpu), 4e-3);
  EXPECT_LT(rel_err(dw_gpu, dw_cpu), 4e-3);

  const OwnedTensor a = random_host({M, K}, DType::F32, 24), b = random_host({N, K}, DType::F32, 25);
  OwnedTensor c_cpu({M, N}, DType::F32), c_gpu({M, N}, DType::F32, Device::CUDA);
  ops::matmul(c_cpu, a, b, false, true);
  ops::matmul(c_gpu, to_device(a), to_device(b), false, true);
  EXPECT_LT(rel_err(c_gpu, c_cpu), 1e-5);

  OwnedTensor bad({M, N + 1}, DType::F32, Device::CUDA);
  EXPECT_THROW(ops::matmul(bad, to_device(a), to_device(b), false, true), std::invalid_argument);
}

// y = residual + x W^T with the add in the GEMM's epilogue, into a separate output and in place.
TEST(CudaMatmul, LinearForwardResidual) {
  WM_REQUIRE_CUDA();
  const OwnedTensor x = random_host({M, K}, DType::BF16, 26), w = random_host({N, K}, DType::BF16, 27);
  const OwnedTensor r = random_host({M, N}, DType::BF16, 28, -8, 8);
  OwnedTensor y_cpu({M, N}, DType::BF16), y_gpu({M, N}, DType::BF16, Device::CUDA);
  ops::linear_forward_residual(y_cpu, x, w, r);
  const OwnedTensor r_gpu = to_device(r), x_gpu = to_device(x), w_gpu = to_device(w);
  ops::linear_forward_residual(y_gpu, x_gpu, w_gpu, r_gpu);
  EXPECT_LT(rel_err(y_gpu, y_cpu), 4e-3);
  EXPECT_LT(rel_err(r_gpu, r), 1e-7);  // the residual is only read
  OwnedTensor inplace = to_device(r);
  ops::linear_forward_residual(inplace, x_gpu, w_gpu, inplace);
  EXPECT_LT(rel_err(inplace, y_cpu), 4e-3);
  OwnedTensor bad({M, N + 1}, DType::BF16, Device::CUDA);
  EXPECT_THROW(ops::linear_forward_residual(y_gpu, x_gpu, w_gpu, bad), std::invalid_argument);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
