// Wall-clock timings of the CUDA matmul and attention at Qwen3-like shapes. Prints numbers only
// (no thresholds); runs when WEMASK_CUDA_TIMING is set in the environment, else skips.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace wm {
namespace {

using namespace cudatest;

double time_ms(const std::function<void()>& f, int reps = 10) {
  f();  // warm-up (plan creation, smem attributes)
  ops::synchronize(Device::CUDA);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  ops::synchronize(Device::CUDA);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

TEST(CudaTiming, MatmulAndAttention) {
  WM_REQUIRE_CUDA();
  if (!std::getenv("WEMASK_CUDA_TIMING")) GTEST_SKIP() << "set WEMASK_CUDA_TIMING=1 to print timings";
  {
    const int64_t M = 8192, N = 4096, K = 4096;
    OwnedTensor a({M, K}, DType::BF16, Device::CUDA), b({N, K}, DType::BF16, Device::CUDA),
        c({M, N}, DType::BF16, Device::CUDA);
    ops::fill(a, 0.01);
    ops::fill(b, 0.01);
    const double ms = time_ms([&] { ops::matmul(c, a, b, false, true); });
    std::printf("[timing] matmul bf16 %ldx%ldx%ld (x W^T): %.3f ms, %.0f TFLOP/s\n", long(M), long(N), long(K), ms,
                2.0 * M * N * K / ms / 1e9);
  }
  for (int64_t T : {2048, 8192}) {
    const int64_t Hq = 16, Hkv = 8, D = 128;
    const OwnedTensor q = to_device(random_host({T, Hq, D}, DType::BF16, 1)),
                      k = to_device(random_host({T, Hkv, D}, DType::BF16, 2)),
                      v = to_device(random_host({T, Hkv, D}, DType::BF16, 3));
    std::vector<int32_t> ds(T, 0);  // one causal document
    const OwnedTensor dds = to_device(int_tensor(ds));
    OwnedTensor out({T, Hq, D}, DType::BF16, Device::CUDA), lse({Hq, T}, DType::F32, Device::CUDA);
    OwnedTensor dq({T, Hq, D}, DType::BF16, Device::CUDA), dk({T, Hkv, D}, DType::BF16, Device::CUDA),
        dv({T, Hkv, D}, DType::BF16, Device::CUDA);
    const float scale = 0.08838834764f;
    const double fwd = time_ms([&] { ops::attention_forward(out, lse, q, k, v, dds, scale); });
    const double bwd = time_ms([&] { ops::attention_backward(dq, dk, dv, out, q, k, v, out, lse, dds, scale); });
    const double causal_flops = 4.0 * Hq * D * (double(T) * T / 2);  // QK^T + PV over the causal half
    std::printf("[timing] attention T=%ld Hq=%ld Hkv=%ld D=%ld causal: fwd %.3f ms (%.0f TFLOP/s), bwd %.3f ms (%.0f TFLOP/s)\n",
                long(T), long(Hq), long(Hkv), long(D), fwd, causal_flops / fwd / 1e9, bwd,
                2.5 * causal_flops / bwd / 1e9);
  }
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
