// KV-cache decoding ops on the CPU: kv_cache_write scatters rows; attention_decode over a cache
// filled with a sequence's keys equals the packed causal attention_forward at that sequence's
// last token (an independent op); sample_tokens: argmax, the inverse CDF at known uniforms,
// log-probabilities, empirical frequencies; bad indices throw.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

OwnedTensor ints(const std::vector<int32_t>& v) {
  OwnedTensor t({static_cast<int64_t>(v.size())}, DType::I32);
  std::copy(v.begin(), v.end(), t.ptr<int32_t>());
  return t;
}

OwnedTensor floats(const std::vector<float>& v) {
  OwnedTensor t({static_cast<int64_t>(v.size())}, DType::F32);
  std::copy(v.begin(), v.end(), t.ptr<float>());
  return t;
}

// Three sequences of lengths `lens` (one document each) with Hq/Hkv heads: the decode output of
// each sequence's last token (cache slots in reverse order) vs attention_forward on the packed batch.
void check_decode_matches_forward(DType dt, int64_t Hq, int64_t Hkv, int64_t D, double tol) {
  const std::vector<int64_t> lens = {5, 1, 9};
  int64_t T = 0;
  for (auto n : lens) T += n;
  std::mt19937 rng(7);
  const OwnedTensor q = testing::random_tensor({T, Hq, D}, dt, rng, -2, 2);
  const OwnedTensor k = testing::random_tensor({T, Hkv, D}, dt, rng, -2, 2);
  const OwnedTensor v = testing::random_tensor({T, Hkv, D}, dt, rng);
  std::vector<int32_t> ds, slots, positions;
  const int64_t S = 4, L = 12;
  for (size_t s = 0, t0 = 0; s < lens.size(); t0 += lens[s], ++s)
    for (int64_t i = 0; i < lens[s]; ++i) {
      ds.push_back(static_cast<int32_t>(t0));
      slots.push_back(static_cast<int32_t>(S - 1 - s));
      positions.push_back(static_cast<int32_t>(i));
    }
  OwnedTensor out({T, Hq, D}, dt), lse({Hq, T}, dt == DType::F64 ? DType::F64 : DType::F32);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  ops::attention_forward(out, lse, q, k, v, ints(ds), scale);

  OwnedTensor kc({S, L, Hkv, D}, dt), vc({S, L, Hkv, D}, dt);
  ops::fill(kc.t(), 1e3);  // garbage beyond each sequence's length must not be read
  ops::fill(vc.t(), 1e3);
  ops::kv_cache_write(kc.t(), vc.t(), k, v, ints(slots), ints(positions));

  const int64_t B = static_cast<int64_t>(lens.size());
  OwnedTensor qd({B, Hq, D}, dt), od({B, Hq, D}, dt);
  std::vector<int32_t> dslots, dlens;
  for (int64_t b = 0, t0 = 0; b < B; t0 += lens[b], ++b) {
    ops::copy(qd.t()[b], q.t()[t0 + lens[b] - 1]);
    dslots.push_back(static_cast<int32_t>(S - 1 - b));
    dlens.push_back(static_cast<int32_t>(lens[b]));
  }
  ops::attention_decode(od, qd, kc, vc, ints(dslots), ints(dlens), scale);
  for (int64_t b = 0, t0 = 0; b < B; t0 += lens[b], ++b) {
    const auto got = testing::to_vector(od.t()[b]);
    const auto want = testing::to_vector(out.t()[t0 + lens[b] - 1]);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "seq " << b << " elem " << i;
  }
}

TEST(CpuDecodeOps, AttentionDecodeEqualsPackedForwardAtLastToken) {
  check_decode_matches_forward(DType::F64, 4, 2, 8, 1e-12);
  check_decode_matches_forward(DType::F32, 6, 2, 16, 1e-5);
  check_decode_matches_forward(DType::F32, 3, 3, 8, 1e-5);
}

TEST(CpuDecodeOps, KvCacheWriteScattersRowsAndChecksIndices) {
  OwnedTensor kc({2, 3, 1, 2}, DType::F32), vc({2, 3, 1, 2}, DType::F32);
  ops::zero(kc.t());
  ops::zero(vc.t());
  const OwnedTensor k = floats({1, 2, 3, 4}), v = floats({5, 6, 7, 8});
  ops::kv_cache_write(kc.t(), vc.t(), k.t().view({2, 1, 2}), v.t().view({2, 1, 2}), ints({1, 0}), ints({2, 0}));
  EXPECT_EQ(testing::to_vector(kc), (std::vector<double>{3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(testing::to_vector(vc), (std::vector<double>{7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6}));
  EXPECT_THROW(ops::kv_cache_write(kc.t(), vc.t(), k.t().view({2, 1, 2}), v.t().view({2, 1, 2}), ints({2, 0}),
                                   ints({0, 0})),
               std::out_of_range);
  EXPECT_THROW(ops::kv_cache_write(kc.t(), vc.t(), k.t().view({2, 1, 2}), v.t().view({2, 1, 2}), ints({0, 0}),
                                   ints({0, 3})),
               std::out_of_range);
  OwnedTensor q({1, 1, 2}, DType::F32), out({1, 1, 2}, DType::F32);
  EXPECT_THROW(ops::attention_decode(out, q, kc, vc, ints({0}), ints({0}), 1.0f), std::out_of_range);
  EXPECT_THROW(ops::attention_decode(out, q, kc, vc, ints({0}), ints({4}), 1.0f), std::out_of_range);
}

TEST(CpuDecodeOps, SampleTokensFollowsTheInverseCdf) {
  // p = softmax([0, ln 2, ln 3, -inf-ish]) at T=1: 1/6, 2/6, 3/6, ~0
  const std::vector<float> row = {0.0f, std::log(2.0f), std::log(3.0f), -80.0f};
  OwnedTensor logits({4, 4}, DType::F32);
  for (int b = 0; b < 4; ++b) std::copy(row.begin(), row.end(), logits.ptr<float>() + 4 * b);
  OwnedTensor ids({4}, DType::I32), lp({4}, DType::F32);
  ops::sample_tokens(ids, lp, logits, floats({0.1f, 0.2f, 0.6f, 0.99f}), 1.0f);
  EXPECT_EQ(std::vector<int32_t>(ids.ptr<int32_t>(), ids.ptr<int32_t>() + 4), (std::vector<int32_t>{0, 1, 2, 2}));
  EXPECT_NEAR(lp.ptr<float>()[0], std::log(1.0 / 6), 1e-6);
  EXPECT_NEAR(lp.ptr<float>()[1], std::log(2.0 / 6), 1e-6);
  EXPECT_NEAR(lp.ptr<float>()[2], std::log(3.0 / 6), 1e-6);
  // greedy: argmax, log-prob at temperature 1
  ops::sample_tokens(ids, lp, logits, floats({0, 0, 0, 0}), 0.0f);
  EXPECT_EQ(ids.ptr<int32_t>()[0], 2);
  EXPECT_NEAR(lp.ptr<float>()[0], std::log(3.0 / 6), 1e-6);
  // temperature 0.5 squares the probabilities: 1/14, 4/14, 9/14
  ops::sample_tokens(ids, lp, logits, floats({0.05f, 0.1f, 0.36f, 0.5f}), 0.5f);
  EXPECT_EQ(std::vector<int32_t>(ids.ptr<int32_t>(), ids.ptr<int32_t>() + 4), (std::vector<int32_t>{0, 1, 2, 2}));
  EXPECT_NEAR(lp.ptr<float>()[1], std::log(4.0 / 14), 1e-6);
  EXPECT_THROW(ops::sample_tokens(ids, lp, logits, floats({0, 0, 1.0f, 0}), 1.0f), std::invalid_argument);
  EXPECT_THROW(ops::sample_tokens(ids, lp, logits, floats({0, 0, 0, 0}), -1.0f), std::invalid_argument);
}

TEST(CpuDecodeOps, SampleTokensFrequenciesMatchSoftmax) {
  const int64_t V = 5, B = 20000;
  const std::vector<float> row = {0.5f, -1.0f, 1.5f, 0.0f, 1.0f};
  OwnedTensor logits({B, V}, DType::F32), ids({B}, DType::I32), lp({B}, DType::F32), u({B}, DType::F32);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> unif(0.0f, 1.0f);
  for (int64_t b = 0; b < B; ++b) {
    std::copy(row.begin(), row.end(), logits.ptr<float>() + V * b);
    u.ptr<float>()[b] = unif(rng);
  }
  ops::sample_tokens(ids, lp, logits, u, 1.0f);
  double z = 0;
  for (float x : row) z += std::exp(x);
  std::vector<double> count(V, 0);
  for (int64_t b = 0; b < B; ++b) count[ids.ptr<int32_t>()[b]] += 1.0 / B;
  for (int64_t i = 0; i < V; ++i) EXPECT_NEAR(count[i], std::exp(row[i]) / z, 0.015) << "token " << i;
}

}  // namespace
}  // namespace wm
