// CUDA KV-cache decoding ops against the CPU reference: kv_cache_write (exact), attention_decode
// (Qwen3-like shapes: head_dim 128, 16 query over 8 kv heads, lengths up to 300, permuted slots;
// and the small head dims / group sizes), sample_tokens (ids and log-probs at a known uniform,
// greedy), and bad indices raising the device error flag.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA
#include <algorithm>
#include <string>

namespace wm {
namespace {

using namespace cudatest;

void check_decode(int64_t B, int64_t Hq, int64_t Hkv, int64_t D, int64_t L, DType dt, double tol) {
  const std::string what = "B=" + std::to_string(B) + " Hq=" + std::to_string(Hq) + " Hkv=" + std::to_string(Hkv) +
                           " D=" + std::to_string(D) + " L=" + std::to_string(L) + " " + dtype_name(dt);
  const int64_t S = B + 2;
  const OwnedTensor kc = random_host({S, L, Hkv, D}, dt, 41, -2, 2), vc = random_host({S, L, Hkv, D}, dt, 42);
  const OwnedTensor q = random_host({B, Hq, D}, dt, 43, -2, 2);
  std::vector<int32_t> slots(B), lengths(B);
  std::mt19937 rng(5);
  for (int64_t b = 0; b < B; ++b) {
    slots[b] = static_cast<int32_t>(S - 1 - b);
    lengths[b] = static_cast<int32_t>(b == 0 ? 1 : b == 1 ? L : 1 + rng() % L);
  }
  const OwnedTensor s = int_tensor(slots), n = int_tensor(lengths);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  OwnedTensor out_cpu({B, Hq, D}, dt), out_gpu({B, Hq, D}, dt, Device::CUDA);
  ops::attention_decode(out_cpu, q, kc, vc, s, n, scale);
  const OwnedTensor gq = to_device(q), gk = to_device(kc), gv = to_device(vc), gs = to_device(s), gn = to_device(n);
  ops::attention_decode(out_gpu, gq, gk, gv, gs, gn, scale);
  ops::synchronize(Device::CUDA);
  EXPECT_LT(rel_err(out_gpu, out_cpu), tol) << what;
}

TEST(CudaDecode, AttentionDecodeMatchesCpu) {
  WM_REQUIRE_CUDA();
  check_decode(6, 16, 8, 128, 300, DType::BF16, 1e-2);
  check_decode(6, 16, 8, 128, 300, DType::F32, 1e-5);
  check_decode(5, 32, 8, 128, 77, DType::BF16, 1e-2);
  check_decode(3, 8, 8, 64, 40, DType::F32, 1e-5);
  check_decode(4, 4, 2, 8, 33, DType::F32, 1e-5);
  check_decode(2, 24, 3, 32, 9, DType::BF16, 1e-2);
  check_decode(2, 2, 1, 16, 70, DType::F32, 1e-5);
}

TEST(CudaDecode, KvCacheWriteMatchesCpu) {
  WM_REQUIRE_CUDA();
  const int64_t S = 3, L = 7, Hkv = 2, D = 16, T = 5;
  for (DType dt : {DType::BF16, DType::F32}) {
    const OwnedTensor k = random_host({T, Hkv, D}, dt, 1), v = random_host({T, Hkv, D}, dt, 2);
    const OwnedTensor slots = int_tensor({2, 0, 2, 1, 0}), pos = int_tensor({0, 6, 1, 3, 0});
    OwnedTensor kc = random_host({S, L, Hkv, D}, dt, 3), vc = random_host({S, L, Hkv, D}, dt, 4);
    const OwnedTensor gkc = to_device(kc), gvc = to_device(vc);
    ops::kv_cache_write(kc.t(), vc.t(), k, v, slots, pos);
    ops::kv_cache_write(gkc.t(), gvc.t(), to_device(k), to_device(v), to_device(slots), to_device(pos));
    ops::synchronize(Device::CUDA);
    EXPECT_EQ(values(gkc), values(kc));
    EXPECT_EQ(values(gvc), values(vc));
  }
}

TEST(CudaDecode, BadIndicesRaiseTheErrorFlag) {
  WM_REQUIRE_CUDA();
  const OwnedTensor kc({2, 4, 1, 8}, DType::F32, Device::CUDA), vc({2, 4, 1, 8}, DType::F32, Device::CUDA);
  const OwnedTensor k({1, 1, 8}, DType::F32, Device::CUDA);
  ops::kv_cache_write(kc.t(), vc.t(), k, k, to_device(int_tensor({2})), to_device(int_tensor({0})));
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::out_of_range);
  OwnedTensor out({1, 1, 8}, DType::F32, Device::CUDA);
  ops::attention_decode(out, k, kc, vc, to_device(int_tensor({0})), to_device(int_tensor({5})), 1.0f);
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::out_of_range);
}

TEST(CudaDecode, SampleTokensMatchesCpu) {
  WM_REQUIRE_CUDA();
  for (int64_t V : {int64_t(64), int64_t(151936), int64_t(1000)}) {
    const int64_t B = 8;
    for (DType dt : {DType::F32, DType::BF16}) {
      const OwnedTensor logits = random_host({B, V}, dt, 9, -6, 6);
      std::vector<float> u(B);
      std::mt19937 rng(2);
      for (auto& x : u) x = static_cast<float>(rng() >> 8) / 16777216.0f;
      OwnedTensor uni({B}, DType::F32);
      std::copy(u.begin(), u.end(), uni.ptr<float>());
      for (float temperature : {1.0f, 0.7f, 0.0f}) {
        OwnedTensor ids({B}, DType::I32), lp({B}, DType::F32);
        OwnedTensor gids({B}, DType::I32, Device::CUDA), glp({B}, DType::F32, Device::CUDA);
        ops::sample_tokens(ids, lp, logits, uni, temperature);
        ops::sample_tokens(gids, glp, to_device(logits), to_device(uni), temperature);
        const OwnedTensor hids = to_host(gids), hlp = to_host(glp);
        for (int64_t b = 0; b < B; ++b) {
          EXPECT_EQ(hids.ptr<int32_t>()[b], ids.ptr<int32_t>()[b]) << "V=" << V << " T=" << temperature << " row " << b;
          EXPECT_NEAR(hlp.ptr<float>()[b], lp.ptr<float>()[b], 1e-3) << "V=" << V << " T=" << temperature;
        }
      }
    }
  }
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
