// CUDA RMSNorm, RoPE and SwiGLU (forward and backward) against the CPU reference.
// bf16 tolerances are one rounding of the output (~4e-3 relative) with margin; f32 ones cover
// fast-math exp/rsqrt and summation order.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA

namespace wm {
namespace {

using namespace cudatest;

void check_rmsnorm(int64_t N, int64_t d, DType dt, DType dw_dt) {
  const std::string what = std::to_string(N) + "x" + std::to_string(d) + " " + dtype_name(dt) + " dw " + dtype_name(dw_dt);
  const OwnedTensor x = random_host({N, d}, dt, 41, -3, 3), w = random_host({d}, dt, 42, 0.5, 1.5);
  const OwnedTensor dy = random_host({N, d}, dt, 43), dw0 = random_host({d}, dw_dt, 44);
  OwnedTensor y_cpu({N, d}, dt), r_cpu({N}, DType::F32);
  OwnedTensor y_gpu({N, d}, dt, Device::CUDA), r_gpu({N}, DType::F32, Device::CUDA);
  const OwnedTensor x_gpu = to_device(x), w_gpu = to_device(w);
  ops::rmsnorm_forward(y_cpu, r_cpu, x, w, 1e-6f);
  ops::rmsnorm_forward(y_gpu, r_gpu, x_gpu, w_gpu, 1e-6f);
  EXPECT_LT(rel_err(y_gpu, y_cpu), dt == DType::BF16 ? 4e-3 : 1e-6) << "y " << what;
  EXPECT_LT(rel_err(r_gpu, r_cpu), 1e-6) << "rstd " << what;

  OwnedTensor dx_cpu({N, d}, dt), dx_gpu({N, d}, dt, Device::CUDA);
  OwnedTensor dw_cpu = clone_host(dw0), dw_gpu = to_device(dw0);
  ops::rmsnorm_backward(dx_cpu, dw_cpu, dy, x, w, r_cpu);
  ops::rmsnorm_backward(dx_gpu, dw_gpu, to_device(dy), x_gpu, w_gpu, to_device(r_cpu));
  EXPECT_LT(rel_err(dx_gpu, dx_cpu), dt == DType::BF16 ? 4e-3 : 1e-5) << "dx " << what;
  EXPECT_LT(rel_err(dw_gpu, dw_cpu), dw_dt == DType::BF16 ? 4e-3 : 1e-5) << "dw " << what;
  // accumulate_dx: dx += the gradient, starting from a random residual gradient.
  const OwnedTensor resid = random_host({N, d}, dt, 45);
  OwnedTensor acc_cpu = clone_host(resid), acc_gpu = to_device(resid);
  ops::rmsnorm_backward(acc_cpu, dw_cpu, dy, x, w, r_cpu, true);
  ops::rmsnorm_backward(acc_gpu, dw_gpu, to_device(dy), x_gpu, w_gpu, to_device(r_cpu), true);
  EXPECT_LT(rel_err(acc_gpu, acc_cpu), dt == DType::BF16 ? 4e-3 : 1e-5) << "dx accumulated " << what;
  EXPECT_LT(rel_err(dw_gpu, dw_cpu), dw_dt == DType::BF16 ? 4e-3 : 1e-5) << "dw twice " << what;
}

TEST(CudaRmsNorm, HiddenAndPerHeadShapes) {
  WM_REQUIRE_CUDA();
  check_rmsnorm(2048, 1024, DType::BF16, DType::F32);
  check_rmsnorm(2048, 2048, DType::BF16, DType::BF16);
  check_rmsnorm(2048 * 16, 128, DType::BF16, DType::BF16);  // q-norm on [T*Hq, head_dim]
  check_rmsnorm(300, 100, DType::BF16, DType::F32);         // scalar path (d % 8 != 0)
  check_rmsnorm(129, 4096, DType::BF16, DType::F32);        // 512 threads per row (Qwen3-8B hidden)
  check_rmsnorm(1000, 2560, DType::BF16, DType::BF16);      // 320 threads per row (Qwen3-4B hidden)
  check_rmsnorm(999, 512, DType::BF16, DType::F32);         // 64 threads per row: 2 warps, 4 rows per block
  check_rmsnorm(50, 8 * 1100, DType::BF16, DType::F32);     // too wide for the fused kernel: separate dx / dw
  check_rmsnorm(77, 24, DType::BF16, DType::F32);           // dW: 3 threads per row, 85 row lanes
  check_rmsnorm(513, 1024, DType::F32, DType::F32);
}

// q/k norm + RoPE: the fused CUDA kernels against the CPU's rmsnorm-then-RoPE composition.
void check_rmsnorm_rope(int64_t T, int64_t H, int64_t D, DType dt) {
  const std::string what = std::to_string(T) + "x" + std::to_string(H) + "x" + std::to_string(D) + " " + dtype_name(dt);
  const OwnedTensor x = random_host({T, H, D}, dt, 61, -3, 3), w = random_host({D}, dt, 62, 0.5, 1.5);
  const OwnedTensor dy = random_host({T, H, D}, dt, 63), dw0 = random_host({D}, DType::F32, 64);
  std::vector<int32_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>((t * 37) % 40960);
  const OwnedTensor p = int_tensor(pos), p_gpu = to_device(p), x_gpu = to_device(x), w_gpu = to_device(w);
  OwnedTensor y_cpu({T, H, D}, dt), r_cpu({T * H}, DType::F32);
  OwnedTensor y_gpu({T, H, D}, dt, Device::CUDA), r_gpu({T * H}, DType::F32, Device::CUDA);
  ops::rmsnorm_rope_forward(y_cpu, r_cpu, x, w, 1e-6f, p, 1e6f);
  ops::rmsnorm_rope_forward(y_gpu, r_gpu, x_gpu, w_gpu, 1e-6f, p_gpu, 1e6f);
  EXPECT_LT(rel_err(y_gpu, y_cpu), dt == DType::BF16 ? 4e-3 : 1e-6) << "y " << what;
  EXPECT_LT(rel_err(r_gpu, r_cpu), 1e-6) << "rstd " << what;

  OwnedTensor dx_cpu({T, H, D}, dt), dx_gpu({T, H, D}, dt, Device::CUDA);
  OwnedTensor dw_cpu = clone_host(dw0), dw_gpu = to_device(dw0);
  OwnedTensor dy_cpu = clone_host(dy), dy_gpu = to_device(dy);
  ops::rmsnorm_rope_backward(dx_cpu, dw_cpu, dy_cpu, x, w, r_cpu, p, 1e6f);
  ops::rmsnorm_rope_backward(dx_gpu, dw_gpu, dy_gpu, x_gpu, w_gpu, to_device(r_cpu), p_gpu, 1e6f);
  EXPECT_LT(rel_err(dx_gpu, dx_cpu), dt == DType::BF16 ? 6e-3 : 1e-5) << "dx " << what;
  EXPECT_LT(rel_err(dw_gpu, dw_cpu), dt == DType::BF16 ? 6e-3 : 1e-5) << "dw " << what;
}

TEST(CudaRmsNormRope, FusedMatchesCpu) {
  WM_REQUIRE_CUDA();
  check_rmsnorm_rope(1024, 16, 128, DType::BF16);  // Qwen3 q heads
  check_rmsnorm_rope(1024, 8, 128, DType::BF16);   // k heads
  check_rmsnorm_rope(333, 3, 64, DType::BF16);     // odd head count, 8 lanes per row
  check_rmsnorm_rope(257, 4, 128, DType::F32);
  check_rmsnorm_rope(100, 2, 96, DType::BF16);     // 12 lanes per row: the unfused path
}

TEST(CudaRope, ForwardBackwardLargePositions) {
  WM_REQUIRE_CUDA();
  for (DType dt : {DType::BF16, DType::F32}) {
    const int64_t T = 1024, H = 16, D = 128;
    const OwnedTensor x = random_host({T, H, D}, dt, 51);
    std::vector<int32_t> pos(T);
    for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>((t * 37) % 40960);  // up to 40k (Qwen3 context)
    const OwnedTensor p = int_tensor(pos);
    OwnedTensor x_cpu = clone_host(x), x_gpu = to_device(x);
    ops::rope_forward(x_cpu, p, 1e6f);
    ops::rope_forward(x_gpu, to_device(p), 1e6f);
    EXPECT_LT(rel_err(x_gpu, x_cpu), dt == DType::BF16 ? 4e-3 : 1e-6) << "forward " << dtype_name(dt);
    ops::rope_backward(x_cpu, p, 1e6f);
    ops::rope_backward(x_gpu, to_device(p), 1e6f);
    EXPECT_LT(rel_err(x_gpu, x_cpu), dt == DType::BF16 ? 6e-3 : 1e-6) << "backward " << dtype_name(dt);
    if (dt == DType::F32) {
      EXPECT_LT(rel_err(x_gpu, x), 1e-5);  // the inverse rotation undoes the forward
    }
  }
}

TEST(CudaSwiGlu, ForwardBackward) {
  WM_REQUIRE_CUDA();
  for (auto [N, F] : {std::pair<int64_t, int64_t>{1024, 3072}, {77, 13}}) {
    for (DType dt : {DType::BF16, DType::F32}) {
      const OwnedTensor gu = random_host({N, 2 * F}, dt, 61, -4, 4), dout = random_host({N, F}, dt, 62);
      OwnedTensor o_cpu({N, F}, dt), o_gpu({N, F}, dt, Device::CUDA);
      const OwnedTensor gu_gpu = to_device(gu);
      ops::swiglu_forward(o_cpu, gu);
      ops::swiglu_forward(o_gpu, gu_gpu);
      EXPECT_LT(rel_err(o_gpu, o_cpu), dt == DType::BF16 ? 4e-3 : 1e-5) << N << "x" << F << " " << dtype_name(dt);
      OwnedTensor g_cpu({N, 2 * F}, dt), g_gpu({N, 2 * F}, dt, Device::CUDA);
      ops::swiglu_backward(g_cpu, dout, gu);
      ops::swiglu_backward(g_gpu, to_device(dout), gu_gpu);
      EXPECT_LT(rel_err(g_gpu, g_cpu), dt == DType::BF16 ? 4e-3 : 1e-5) << N << "x" << F << " " << dtype_name(dt);
    }
  }
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
