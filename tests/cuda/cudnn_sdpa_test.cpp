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
using cuda::SdpaDocs;
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

// Packed rows: doc_lengths[r] are the documents of row r end to end, the rest of the row is
// padding (one-token documents). Listed documents: every document of doc_lengths (padding left out).
struct PackedRows {
  int64_t rows = 0, seq = 0;
  std::vector<int32_t> doc_start, begin, end;  // doc_start [T]; begin/end [num_docs]
  int max_len = 0;
  double causal_pairs = 0;  // sum over documents of len * (len + 1) / 2 (padding: 1 each)
};

PackedRows pack_rows(int64_t rows, int64_t seq, const std::vector<std::vector<int>>& doc_lengths) {
  PackedRows p{rows, seq};
  p.doc_start.resize(size_t(rows * seq));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = r * seq;
    for (int len : doc_lengths[size_t(r)]) {
      p.begin.push_back(int32_t(t));
      p.end.push_back(int32_t(t + len));
      p.max_len = std::max(p.max_len, len);
      p.causal_pairs += double(len) * (len + 1) / 2;
      for (int i = 0; i < len; ++i) p.doc_start[size_t(t + i)] = int32_t(t);
      t += len;
    }
    if (t > (r + 1) * seq) ADD_FAILURE() << "row " << r << ": documents longer than the row";
    for (; t < (r + 1) * seq; ++t) {
      p.doc_start[size_t(t)] = int32_t(t);
      p.causal_pairs += 1;
    }
  }
  return p;
}

// The device side of a PackedRows: doc_start for our kernels, the document list for cuDNN.
struct DeviceDocs {
  OwnedTensor doc_start, begin, end;
  SdpaDocs docs;
  explicit DeviceDocs(const PackedRows& p) : doc_start(to_device(int_tensor(p.doc_start))) {
    docs.tokens = int(p.rows * p.seq);
    docs.num_docs = int(p.begin.size());
    docs.max_doc_len = p.max_len;
    if (p.begin.empty()) return;  // all padding: no list
    begin = to_device(int_tensor(p.begin));
    end = to_device(int_tensor(p.end));
    docs.doc_begin = static_cast<const int*>(begin.t().data);
    docs.doc_end = static_cast<const int*>(end.t().data);
  }
};

void check_cudnn_docs(const PackedRows& p, int Hq, int Hkv, int D) {
  if (!CudnnSdpa::available()) FAIL() << "cuDNN fused SDPA is not available: " << CudnnSdpa::unavailable_reason();
  const int64_t T = p.rows * p.seq;
  const std::string what = "packed rows=" + std::to_string(p.rows) + " S=" + std::to_string(p.seq) +
                           " docs=" + std::to_string(p.begin.size()) + " Hq=" + std::to_string(Hq) +
                           " Hkv=" + std::to_string(Hkv) + " D=" + std::to_string(D);
  const float scale = 1.0f / std::sqrt(float(D));
  const OwnedTensor q = to_device(random_host({T, Hq, D}, DType::BF16, 51, -2, 2)),
                    k = to_device(random_host({T, Hkv, D}, DType::BF16, 52, -2, 2)),
                    v = to_device(random_host({T, Hkv, D}, DType::BF16, 53)),
                    dout = to_device(random_host({T, Hq, D}, DType::BF16, 54));
  const DeviceDocs dd(p);

  OwnedTensor out_ref({T, Hq, D}, DType::BF16, Device::CUDA), lse_ref({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq_ref({T, Hq, D}, DType::BF16, Device::CUDA), dk_ref({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv_ref({T, Hkv, D}, DType::BF16, Device::CUDA);
  ops::attention_forward(out_ref, lse_ref, q, k, v, dd.doc_start, scale);
  ops::attention_backward(dq_ref, dk_ref, dv_ref, dout, q, k, v, out_ref, lse_ref, dd.doc_start, scale);

  OwnedTensor out({T, Hq, D}, DType::BF16, Device::CUDA), lse({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq({T, Hq, D}, DType::BF16, Device::CUDA), dk({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv({T, Hkv, D}, DType::BF16, Device::CUDA);
  for (OwnedTensor* t : {&out, &dq, &dk, &dv}) ops::fill(*t, 7.0);  // every token must be written
  ops::fill(lse, 7.0);
  const cudaStream_t stream = cuda::stream();
  CudnnSdpa sdpa;
  try {
    if (dd.docs.num_docs > 0)
      std::printf("[cudnn sdpa docs] %s\n", sdpa.prepare_docs(dd.docs, Hq, Hkv, D, false).c_str());
    sdpa.forward_docs(out.t().data, lse.ptr<float>(), q.t().data, k.t().data, v.t().data, dd.docs, Hq, Hkv, D, scale,
                      stream);
    ops::synchronize(Device::CUDA);
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA forward_docs " << what << ": " << e.what();
  }
  EXPECT_LE(max_rel(out, out_ref), 2e-2) << "out " << what;
  EXPECT_LE(max_rel(lse, lse_ref), 1e-3) << "lse " << what;
  std::printf("[cudnn sdpa docs] %s: out max rel %.2e (rel norm %.2e), lse max rel %.2e\n", what.c_str(),
              max_rel(out, out_ref), rel_err(out, out_ref), max_rel(lse, lse_ref));

  try {
    if (dd.docs.num_docs > 0)
      std::printf("[cudnn sdpa docs] %s\n", sdpa.prepare_docs(dd.docs, Hq, Hkv, D, true).c_str());
    sdpa.backward_docs(dq.t().data, dk.t().data, dv.t().data, dout.t().data, q.t().data, k.t().data, v.t().data,
                       out_ref.t().data, lse_ref.ptr<float>(), dd.docs, Hq, Hkv, D, scale, stream);
    ops::synchronize(Device::CUDA);
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA backward_docs " << what << ": " << e.what();
  }
  EXPECT_LE(max_rel(dq, dq_ref), 2e-2) << "dq " << what;
  EXPECT_LE(max_rel(dk, dk_ref), 2e-2) << "dk " << what;
  EXPECT_LE(max_rel(dv, dv_ref), 2e-2) << "dv " << what;
  std::printf("[cudnn sdpa docs] %s: max rel dq %.2e dk %.2e dv %.2e (rel norms %.2e %.2e %.2e)\n", what.c_str(),
              max_rel(dq, dq_ref), max_rel(dk, dk_ref), max_rel(dv, dv_ref), rel_err(dq, dq_ref),
              rel_err(dk, dk_ref), rel_err(dv, dv_ref));
}

// Host only: the document list of a doc_start array leaves one-token documents out.
TEST(CudnnSdpa, ListDocuments) {
  const PackedRows p = pack_rows(3, 96, {{1, 40, 55}, {96}, {10, 10}});
  const cuda::SdpaDocList l = cuda::list_documents(p.doc_start);
  EXPECT_EQ(l.begin, (std::vector<int32_t>{1, 41, 96, 192, 202}));
  EXPECT_EQ(l.end, (std::vector<int32_t>{41, 96, 192, 202, 212}));
  EXPECT_EQ(l.max_len, 96);
}

TEST(CudnnSdpa, DocsSmall) {
  WM_REQUIRE_CUDA();
  // Row 0: a 1-token document, 40, 55 (no padding); row 1: one document; row 2: 10, 10, 76 padding.
  check_cudnn_docs(pack_rows(3, 96, {{1, 40, 55}, {96}, {10, 10}}), 4, 2, 64);
}

TEST(CudnnSdpa, DocsQwen3Shape) {
  WM_REQUIRE_CUDA();
  check_cudnn_docs(pack_rows(2, 1024, {{300, 500, 100}, {1024}}), 16, 8, 128);
}

// Known failure (H100, 2026-11-22): with no document of >= 2 tokens (num_docs == 0) cuDNN's
// ragged backward leaves dq/dk wrong (max rel 1). The model never takes this path (attention_cudnn
// falls back to our kernels when num_docs == 0), so it stays disabled until the fix-up is right.
TEST(CudnnSdpa, DISABLED_DocsAllPadding) {
  WM_REQUIRE_CUDA();
  check_cudnn_docs(pack_rows(1, 64, {{}}), 4, 2, 64);
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

// Packed rows of documents of 300..700 tokens (fixed pseudo-random lengths) and trailing padding.
TEST(CudnnSdpa, TimingDocs) {
  WM_REQUIRE_CUDA();
  if (!std::getenv("WEMASK_CUDA_TIMING")) GTEST_SKIP() << "set WEMASK_CUDA_TIMING=1 to print timings";
  if (!CudnnSdpa::available()) FAIL() << "cuDNN fused SDPA is not available: " << CudnnSdpa::unavailable_reason();
  const int64_t rows = 8, S = 2048;
  const int Hq = 16, Hkv = 8, D = 128;
  std::vector<std::vector<int>> lengths(rows);
  uint32_t state = 12345;
  for (auto& row : lengths) {
    int left = int(S);
    for (;;) {
      state = state * 1664525u + 1013904223u;
      const int len = 300 + int((state >> 8) % 401);
      if (len > left) break;  // the rest of the row is padding
      row.push_back(len);
      left -= len;
    }
  }
  const PackedRows p = pack_rows(rows, S, lengths);
  const DeviceDocs dd(p);
  const int64_t T = rows * S;
  const float scale = 1.0f / std::sqrt(float(D));
  const OwnedTensor q = to_device(random_host({T, Hq, D}, DType::BF16, 1)),
                    k = to_device(random_host({T, Hkv, D}, DType::BF16, 2)),
                    v = to_device(random_host({T, Hkv, D}, DType::BF16, 3)),
                    dout = to_device(random_host({T, Hq, D}, DType::BF16, 4));
  OwnedTensor out({T, Hq, D}, DType::BF16, Device::CUDA), lse({Hq, T}, DType::F32, Device::CUDA);
  OwnedTensor dq({T, Hq, D}, DType::BF16, Device::CUDA), dk({T, Hkv, D}, DType::BF16, Device::CUDA),
      dv({T, Hkv, D}, DType::BF16, Device::CUDA);
  // 4 flops per (query, key, d) pair over the causal pairs of every document.
  const double fwd_flops = 4.0 * p.causal_pairs * Hq * D, bwd_flops = 2.5 * fwd_flops;
  const cudaStream_t stream = cuda::stream();

  CudnnSdpa sdpa;
  double cf = 0, cb = 0;
  try {
    std::printf("[cudnn sdpa docs] %s\n", sdpa.prepare_docs(dd.docs, Hq, Hkv, D, false).c_str());
    std::printf("[cudnn sdpa docs] %s\n", sdpa.prepare_docs(dd.docs, Hq, Hkv, D, true).c_str());
    cf = median_ms([&] {
      sdpa.forward_docs(out.t().data, lse.ptr<float>(), q.t().data, k.t().data, v.t().data, dd.docs, Hq, Hkv, D,
                        scale, stream);
    });
    cb = median_ms([&] {
      sdpa.backward_docs(dq.t().data, dk.t().data, dv.t().data, dout.t().data, q.t().data, k.t().data, v.t().data,
                         out.t().data, lse.ptr<float>(), dd.docs, Hq, Hkv, D, scale, stream);
    });
  } catch (const std::exception& e) {
    FAIL() << "cuDNN SDPA docs: " << e.what();
  }
  std::printf("[timing] cudnn sdpa docs T=%ld (%zu docs, max %d) fwd %.3f ms (%.0f TFLOP/s), bwd %.3f ms (%.0f TFLOP/s)\n",
              long(T), p.begin.size(), p.max_len, cf, fwd_flops / cf / 1e9, cb, bwd_flops / cb / 1e9);
  const double of = median_ms([&] { ops::attention_forward(out, lse, q, k, v, dd.doc_start, scale); });
  const double ob =
      median_ms([&] { ops::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, dd.doc_start, scale); });
  std::printf("[timing] ours docs T=%ld fwd %.3f ms (%.0f TFLOP/s), bwd %.3f ms (%.0f TFLOP/s)\n", long(T), of,
              fwd_flops / of / 1e9, ob, bwd_flops / ob / 1e9);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
