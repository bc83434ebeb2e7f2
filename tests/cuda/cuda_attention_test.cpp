// CUDA flash attention (forward and backward) against the CPU reference: Qwen3-like shapes
// (head_dim 128, 16 query heads over 8 kv heads, packed documents whose boundaries fall inside
// tiles) and the generic small head dims (64/32/16/8, T not a multiple of the tile).
// Tolerances (relative error norms): out 1e-2 and gradients 2e-2 (P is rounded to bf16 before
// the tensor-core products, as in flash attention); lse 1e-4 (fp32 throughout; 1e-3 for f32
// tensors, which the kernels round to bf16).
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA
#include <cmath>
#include <cstdlib>
#include <string>

namespace wm {
namespace {

using namespace cudatest;

OwnedTensor doc_starts(int64_t T, const std::vector<int64_t>& doc_lengths) {
  std::vector<int32_t> ds(T);
  int64_t start = 0;
  size_t d = 0;
  for (int64_t t = 0; t < T; ++t) {
    if (d < doc_lengths.size() && t >= start + doc_lengths[d]) start += doc_lengths[d++];
    ds[t] = static_cast<int32_t>(start);
  }
  return int_tensor(ds);
}

void check_attention(int64_t T, int64_t Hq, int64_t Hkv, int64_t D, const std::vector<int64_t>& docs, DType dt,
                     bool with_backward) {
  const std::string what = "T=" + std::to_string(T) + " Hq=" + std::to_string(Hq) + " Hkv=" + std::to_string(Hkv) +
                           " D=" + std::to_string(D) + " " + dtype_name(dt);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const OwnedTensor q = random_host({T, Hq, D}, dt, 31, -2, 2), k = random_host({T, Hkv, D}, dt, 32, -2, 2);
  const OwnedTensor v = random_host({T, Hkv, D}, dt, 33), ds = doc_starts(T, docs);
  const OwnedTensor dq_ = to_device(q), dk_ = to_device(k), dv_ = to_device(v), dds = to_device(ds);

  OwnedTensor out_cpu({T, Hq, D}, dt), lse_cpu({Hq, T}, DType::F32);
  OwnedTensor out_gpu({T, Hq, D}, dt, Device::CUDA), lse_gpu({Hq, T}, DType::F32, Device::CUDA);
  ops::attention_forward(out_cpu, lse_cpu, q, k, v, ds, scale);
  ops::attention_forward(out_gpu, lse_gpu, dq_, dk_, dv_, dds, scale);
  EXPECT_LT(rel_err(out_gpu, out_cpu), 1e-2) << "out " << what;
  // f32 inputs are rounded to bf16 on their way into the tensor cores: lse then differs by ~1e-4.
  EXPECT_LT(rel_err(lse_gpu, lse_cpu), dt == DType::BF16 ? 1e-4 : 1e-3) << "lse " << what;
  if (!with_backward) return;

  // Backward from the CPU forward results, so that only the backward is compared.
  const OwnedTensor dout = random_host({T, Hq, D}, dt, 34);
  OwnedTensor gq_cpu({T, Hq, D}, dt), gk_cpu({T, Hkv, D}, dt), gv_cpu({T, Hkv, D}, dt);
  OwnedTensor gq_gpu({T, Hq, D}, dt, Device::CUDA), gk_gpu({T, Hkv, D}, dt, Device::CUDA),
      gv_gpu({T, Hkv, D}, dt, Device::CUDA);
  ops::fill(gq_gpu, 7.0);  // overwritten, not accumulated
  ops::attention_backward(gq_cpu, gk_cpu, gv_cpu, dout, q, k, v, out_cpu, lse_cpu, ds, scale);
  ops::attention_backward(gq_gpu, gk_gpu, gv_gpu, to_device(dout), dq_, dk_, dv_, to_device(out_cpu),
                          to_device(lse_cpu), dds, scale);
  EXPECT_LT(rel_err(gq_gpu, gq_cpu), 2e-2) << "dq " << what;
  EXPECT_LT(rel_err(gk_gpu, gk_cpu), 2e-2) << "dk " << what;
  EXPECT_LT(rel_err(gv_gpu, gv_cpu), 2e-2) << "dv " << what;
}

TEST(CudaAttention, Qwen3ShapesPackedDocs) {
  WM_REQUIRE_CUDA();
  check_attention(2048, 16, 8, 128, {700, 900, 448}, DType::BF16, true);
}

// Both GQA backward paths (per-query-head partials + reduction, and one block per kv head looping
// over its group) whatever the heuristic picks for this T.
TEST(CudaAttention, GqaBackwardBothPaths) {
  WM_REQUIRE_CUDA();
  for (const char* mode : {"0", "1"}) {
    setenv("WEMASK_ATTN_GQA_SPLIT", mode, 1);
    SCOPED_TRACE(std::string("WEMASK_ATTN_GQA_SPLIT=") + mode);
    check_attention(1024, 8, 2, 128, {300, 724}, DType::BF16, true);
  }
  unsetenv("WEMASK_ATTN_GQA_SPLIT");
}

TEST(CudaAttention, LongSingleDocumentForward) {
  WM_REQUIRE_CUDA();
  check_attention(2048, 4, 1, 128, {2048}, DType::BF16, false);
}

TEST(CudaAttention, SmallHeadDimsAndRaggedLength) {
  WM_REQUIRE_CUDA();
  for (int64_t D : {64, 32, 16, 8}) check_attention(333, 4, 2, D, {1, 100, 50, 182}, DType::BF16, true);
  check_attention(200, 6, 3, 24, {64, 136}, DType::BF16, true);  // D padded to 32
}

TEST(CudaAttention, F32Tensors) {
  WM_REQUIRE_CUDA();
  check_attention(257, 4, 4, 64, {130, 127}, DType::F32, true);
}

TEST(CudaAttention, RejectsBadDocStartAndShapes) {
  WM_REQUIRE_CUDA();
  const int64_t T = 64, H = 2, D = 16;
  OwnedTensor q({T, H, D}, DType::BF16, Device::CUDA), out({T, H, D}, DType::BF16, Device::CUDA);
  OwnedTensor lse({H, T}, DType::F32, Device::CUDA);
  ops::fill(q, 0.5);
  std::vector<int32_t> bad(T, 0);
  bad[10] = 11;  // a document cannot start after the token
  EXPECT_NO_THROW(ops::attention_forward(out, lse, q, q, q, to_device(int_tensor(bad)), 0.25f));
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::invalid_argument);
  OwnedTensor k3({T, 3, D}, DType::BF16, Device::CUDA);
  EXPECT_THROW(ops::attention_forward(out, lse, q, k3, k3, to_device(int_tensor(bad)), 0.25f), std::invalid_argument);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
