// cuDNN fused SDPA (kernels/cuda/cudnn_sdpa.h) against our CUDA flash attention
// (CudaBackend::attention_forward/backward with one causal document per row), and their timings.
//
// Tolerances, as max |cudnn - ours| / max |ours| over the whole tensor: out 2e-2 and dq/dk/dv
// 2e-2 (both round P / dS to bf16 before the tensor-core products, in different tile orders);
// lse 1e-3 (fp32 on both sides). The backward of both is fed the same out and lse (ours), so that
// it is compared alone. Without cuDNN's fused SDPA (too old, unsupported device, or no engine for
// the graph) the tests FAIL with the reason when a GPU is present: the point is to see why.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cudnn_sdpa.h"

namespace wm {
namespace {

using namespace cudatest;
using cuda::CudnnSdpa;
using cuda::SdpaShape;

// max |a - b| / max |b| (b the reference); NaN anywhere gives NaN (and fails the check).
double max_rel(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = values(a), vb = values(b);
  EXPECT_EQ(va.size(), vb.size());
  double diff = 0, ref = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
    const double d = std::fabs(va[i] - vb[i]);
    if (std::isnan(d)) return d;
    diff = std::max(diff, d);
    ref = std::max(ref, std::fabs(vb[i]));
  }
  return diff / std::max(ref, 1e-30);
}

OwnedTensor row_doc_starts(int64_t rows, int64_t S) {
  std::vector<int32_t> ds(size_t(rows * S));
  for (int64_t t = 0; t < rows * S; ++t) ds[size_t(t)] = int32_t(t / S * S);
  return to_device(int_tensor(ds));
}

void check_cudnn_sdpa(const SdpaShape& s) {
  if (!CudnnSdpa::available()) FAIL() << "cuDNN fused SDPA is not available: " << CudnnSdpa::unavailable_reason();
  const int64_t T = int64_t(s.rows) * s.seq, Hq = s.q_heads, Hkv = s.kv_heads, D = s.head_dim;
  const std::string what = "rows=" + std::to_string(s.rows) + " S=" + std::to_string(s.seq) + " Hq=" +
                           std::to_string(Hq) + " Hkv=" + std::to_string(Hkv) + " D=" + std::to_string(D);
  const float scale = 1.0f / std::sqrt(float(D));
  const OwnedTensor q = to_device(random_host({T, Hq, D}, DType::BF16, 41, -2, 2)),
                    k = to_device(random_host({T, Hkv, D}, DType::BF16, 42, -2, 2)),
                    v = to_device(random_host({T, Hkv, D}, DType::BF16, 43)),
                    dout = to_device(random_host({T, Hq, D}, DType::BF16, 44));
  const OwnedTensor ds = row_doc_starts(s.rows, s.seq);

  // Reference: our kernels.
  OwnedTensor out_ref({T, Hq, D}, DType::BF16, Device::CUDA), lse_ref({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq_ref({T, Hq, D}, DType::BF16, Device::CUDA), dk_ref({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv_ref({T, Hkv, D}, DType::BF16, Device::CUDA);
  ops::attention_forward(out_ref, lse_ref, q, k, v, ds, scale);
  ops::attention_backward(dq_ref, dk_ref, dv_ref, dout, q, k, v, out_ref, lse_ref, ds, scale);

  // cuDNN.
  OwnedTensor out({T, Hq, D}, DType::BF16, Device::CUDA), lse({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq({T, Hq, D}, DType::BF16, Device::CUDA), dk({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv({T, Hkv, D}, DType::BF16, Device::CUDA);
  ops::fill(dq, 7.0);  // overwritten, not accumulated
  ops::fill(dk, 7.0);
  ops::fill(dv, 7.0);
  const cudaStream_t stream = cuda::stream();
  CudnnSdpa sdpa;
  try {
    std::printf("[cudnn sdpa] %s\n", sdpa.prepare(s, false).c_str());
    sdpa.forward(out.t().data, lse.ptr<float>(), q.t().data, k.t().data, v.t().data, s, scale, stream);
    ops::synchronize(Device::CUDA);
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA forward " << what << ": " << e.what();
  }
  EXPECT_LE(max_rel(out, out_ref), 2e-2) << "out " << what;
  EXPECT_LE(max_rel(lse, lse_ref), 1e-3) << "lse " << what;
  std::printf("[cudnn sdpa] %s: out max rel %.2e (rel norm %.2e), lse max rel %.2e\n", what.c_str(),
              max_rel(out, out_ref), rel_err(out, out_ref), max_rel(lse, lse_ref));

  try {
    std::printf("[cudnn sdpa] %s\n", sdpa.prepare(s, true).c_str());
    sdpa.backward(dq.t().data, dk.t().data, dv.t().data, dout.t().data, q.t().data, k.t().data, v.t().data,
                  out_ref.t().data, lse_ref.ptr<float>(), s, scale, stream);
    ops::synchronize(Device::CUDA);
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA backward " << what << ": " << e.what();
  }
  EXPECT_LE(max_rel(dq, dq_ref), 2e-2) << "dq " << what;
  EXPECT_LE(max_rel(dk, dk_ref), 2e-2) << "dk " << what;
  EXPECT_LE(max_rel(dv, dv_ref), 2e-2) << "dv " << what;
  std::printf("[cudnn sdpa] %s: max rel dq %.2e dk %.2e dv %.2e (rel norms %.2e %.2e %.2e)\n", what.c_str(),
              max_rel(dq, dq_ref), max_rel(dk, dk_ref), max_rel(dv, dv_ref), rel_err(dq, dq_ref),
              rel_err(dk, dk_ref), rel_err(dv, dv_ref));
}

TEST(CudnnSdpa, SmallGqa) {
  WM_REQUIRE_CUDA();
  check_cudnn_sdpa(SdpaShape{.rows = 2, .seq = 128, .q_heads = 4, .kv_heads = 2, .head_dim = 64});
}

TEST(CudnnSdpa, Qwen3Shape) {
  WM_REQUIRE_CUDA();
  check_cudnn_sdpa(SdpaShape{.rows = 2, .seq = 2048, .q_heads = 16, .kv_heads = 8, .head_dim = 128});
}

// Median of 10 timed runs after 3 warm-ups, CUDA events on the ops' stream.
double median_ms(const std::function<void()>& f) {
  const cudaStream_t stream = cuda::stream();
  for (int i = 0; i < 3; ++i) f();
  ops::synchronize(Device::CUDA);
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    cudaEventRecord(a, stream);
    f();
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return 0.5 * (ms[4] + ms[5]);
}

TEST(CudnnSdpa, Timing) {
  WM_REQUIRE_CUDA();
  if (!std::getenv("WEMASK_CUDA_TIMING")) GTEST_SKIP() << "set WEMASK_CUDA_TIMING=1 to print timings";
  if (!CudnnSdpa::available()) FAIL() << "cuDNN fused SDPA is not available: " << CudnnSdpa::unavailable_reason();
  const SdpaShape s{.rows = 8, .seq = 2048, .q_heads = 16, .kv_heads = 8, .head_dim = 128};
  const int64_t T = int64_t(s.rows) * s.seq, Hq = s.q_heads, Hkv = s.kv_heads, D = s.head_dim;
  const float scale = 1.0f / std::sqrt(float(D));
  const OwnedTensor q = to_device(random_host({T, Hq, D}, DType::BF16, 1)),
                    k = to_device(random_host({T, Hkv, D}, DType::BF16, 2)),
                    v = to_device(random_host({T, Hkv, D}, DType::BF16, 3)),
                    dout = to_device(random_host({T, Hq, D}, DType::BF16, 4));
  const OwnedTensor ds = row_doc_starts(s.rows, s.seq);
  OwnedTensor out({T, Hq, D}, DType::BF16, Device::CUDA), lse({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq({T, Hq, D}, DType::BF16, Device::CUDA), dk({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv({T, Hkv, D}, DType::BF16, Device::CUDA);
  const double fwd_flops = 4.0 * s.rows * double(s.seq) * s.seq * Hq * D / 2, bwd_flops = 2.5 * fwd_flops;
  const cudaStream_t stream = cuda::stream();

  CudnnSdpa sdpa;
  double cf = 0, cb = 0;
  try {
    std::printf("[cudnn sdpa] %s\n", sdpa.prepare(s, false).c_str());
    std::printf("[cudnn sdpa] %s\n", sdpa.prepare(s, true).c_str());
    cf = median_ms([&] {
      sdpa.forward(out.t().data, lse.ptr<float>(), q.t().data, k.t().data, v.t().data, s, scale, stream);
    });
    cb = median_ms([&] {
      sdpa.backward(dq.t().data, dk.t().data, dv.t().data, dout.t().data, q.t().data, k.t().data, v.t().data,
                    out.t().data, lse.ptr<float>(), s, scale, stream);
    });
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA: " << e.what();
  }
  std::printf("[timing] cudnn sdpa T=%ld fwd %.3f ms (%.0f TFLOP/s), bwd %.3f ms (%.0f TFLOP/s)\n", long(T), cf,
              fwd_flops / cf / 1e9, cb, bwd_flops / cb / 1e9);
  const double of = median_ms([&] { ops::attention_forward(out, lse, q, k, v, ds, scale); });
  const double ob = median_ms([&] { ops::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, ds, scale); });
  std::printf("[timing] ours T=%ld fwd %.3f ms (%.0f TFLOP/s), bwd %.3f ms (%.0f TFLOP/s)\n", long(T), of,
              fwd_flops / of / 1e9, ob, bwd_flops / ob / 1e9);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
