// The KV-cache rollout engine (model/generate.h) on tiny random CPU models:
//  - greedy cached generation equals the no-cache reference token for token (tied / untied,
//    grouped-query heads, WeMask off / on, prompts of different lengths, stop ids);
//  - the reported log-probs equal the model's own forward log-probs of the tokens;
//  - sampling is reproducible for a seed and independent of the other sequences in the batch;
//  - prefill chunking and continuous batching with few cache slots are invisible; top-k / top-p;
//    bad input throws.
#include "model/generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>

#include "model/host_io.h"
#include "model/naive_generate.h"
#include "model/token_sampler.h"
#include "tests/model/model_test_util.h"

namespace wm {
namespace {

WeMaskSpec wemask_on() {
  WeMaskSpec s;
  s.enabled = true;
  s.layers = {1};
  s.mask_rate = 0.1;  // 3 of 32 dims
  s.gamma = 1.0;
  return s;
}

std::unique_ptr<Qwen3Model> tiny_model(bool tied, WeMaskSpec wemask = {}, int64_t max_tokens = 128,
                                       uint32_t seed = 5) {
  ModelOptions opt;
  opt.max_tokens = max_tokens;
  opt.inference_only = true;
  opt.wemask = std::move(wemask);
  auto m = std::make_unique<Qwen3Model>(test::tiny_config(tied), opt);
  test::init_random(m->params(), seed);
  return m;
}

const std::vector<std::vector<int32_t>> kPrompts = {{5, 17, 42}, {7, 3, 60, 11, 2, 9, 30}, {9}, {1, 63, 8, 8}};

void expect_greedy_equals_naive(Qwen3Model& m, const std::vector<std::vector<int32_t>>& prompts, int64_t max_new,
                                const std::vector<int32_t>& stop_ids, const std::string& what) {
  SamplingOptions o;
  o.max_new_tokens = max_new;
  o.temperature = 0.0;
  o.stop_ids = stop_ids;
  NaiveSamplingOptions n;
  n.max_new_tokens = max_new;
  n.stop_ids = stop_ids;
  const auto want = generate_without_cache(m, prompts, n);
  const auto got = generate(m, prompts, o);
  ASSERT_EQ(got.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(got[i].tokens, want[i].tokens) << what << ", prompt " << i;
    EXPECT_EQ(got[i].stopped, want[i].stopped) << what << ", prompt " << i;
    EXPECT_EQ(got[i].logprobs.size(), got[i].tokens.size());
  }
}

TEST(Generate, GreedyEqualsNoCacheReference) {
  for (bool tied : {true, false}) {
    auto m = tiny_model(tied);
    expect_greedy_equals_naive(*m, kPrompts, 10, {}, tied ? "tied" : "untied");
  }
}

TEST(Generate, GreedyWithStopIdsEqualsNoCacheReference) {
  auto m = tiny_model(true);
  SamplingOptions o;
  o.max_new_tokens = 10;
  o.temperature = 0.0;
  const auto free_run = generate(*m, kPrompts, o);
  // stop on sequence 0's third token and sequence 1's fifth: different sequences stop at different steps
  const std::vector<int32_t> stops = {free_run[0].tokens[2], free_run[1].tokens[4]};
  expect_greedy_equals_naive(*m, kPrompts, 10, stops, "stop ids");
  const auto stopped = generate(*m, kPrompts, [&] { auto s = o; s.stop_ids = stops; return s; }());
  EXPECT_TRUE(stopped[0].stopped);
  EXPECT_LE(stopped[0].tokens.size(), 3u);
  EXPECT_TRUE(stopped[0].tokens.back() == stops[0] || stopped[0].tokens.back() == stops[1]);
}

TEST(Generate, GreedyWithWeMaskEqualsNoCacheReference) {
  for (bool tied : {true, false}) {
    auto m = tiny_model(tied, wemask_on());
    // all sequences run to max_new_tokens: the reference re-selects from the same first tokens each step
    expect_greedy_equals_naive(*m, kPrompts, 8, {}, "wemask");
    // a shared first token (like <|im_start|>) keeps the selection fixed as sequences stop
    std::vector<std::vector<int32_t>> shared = kPrompts;
    for (auto& p : shared) p.insert(p.begin(), 4);
    SamplingOptions o;
    o.max_new_tokens = 8;
    o.temperature = 0.0;
    const auto free_run = generate(*m, shared, o);
    expect_greedy_equals_naive(*m, shared, 8, {free_run[2].tokens[1], free_run[3].tokens[3]}, "wemask + stop ids");
  }
  // the mask matters (so the comparison above can fail): same weights with WeMask off differ
  auto masked = tiny_model(true, wemask_on());
  auto plain = tiny_model(true);
  SamplingOptions o;
  o.max_new_tokens = 8;
  o.temperature = 0.0;
  const auto a = generate(*masked, kPrompts, o), b = generate(*plain, kPrompts, o);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs = differs || a[i].logprobs != b[i].logprobs;
  EXPECT_TRUE(differs);
}

// -log p of every generated token under the model's forward (teacher forcing on prompt + output).
std::vector<double> forward_logprobs(Qwen3Model& m, const std::vector<int32_t>& prompt, const std::vector<int32_t>& gen) {
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), gen.begin(), gen.end());
  const int64_t T = static_cast<int64_t>(seq.size());
  const auto loss = m.forward_loss(Batch(pack_documents({{seq}}, T), Device::CPU)).token_loss;
  std::vector<double> lp;
  for (size_t j = 0; j < gen.size(); ++j) lp.push_back(-loss[prompt.size() - 1 + j]);
  return lp;
}

TEST(Generate, LogprobsEqualForwardLogprobs) {
  for (bool tied : {true, false})
    for (double temperature : {1.0, 0.0}) {
      auto m = tiny_model(tied);
      SamplingOptions o;
      o.max_new_tokens = 9;
      o.temperature = temperature;
      o.seed = 11;
      const auto gens = generate(*m, kPrompts, o);
      for (size_t i = 0; i < kPrompts.size(); ++i) {
        const auto want = forward_logprobs(*m, kPrompts[i], gens[i].tokens);
        ASSERT_EQ(gens[i].logprobs.size(), want.size());
        for (size_t j = 0; j < want.size(); ++j)
          EXPECT_NEAR(gens[i].logprobs[j], want[j], 1e-4) << "prompt " << i << " token " << j << " T=" << temperature;
      }
    }
}

TEST(Generate, TemperatureLogprobsAreOfTheScaledDistribution) {
  auto m = tiny_model(true);
  SamplingOptions o;
  o.max_new_tokens = 1;
  o.temperature = 0.5;
  o.seed = 3;
  const std::vector<int32_t> prompt = {5, 17, 42};
  const auto g = generate(*m, {prompt}, o)[0];
  const int64_t T = 3, V = m->config().vocab_size;
  OwnedTensor logits({T, V}, DType::F32);
  m->forward_logits(Batch(pack_documents({{prompt}}, T), Device::CPU), logits.t());
  const auto row = to_host_f64(logits.t().slice(T - 1, T));
  double mx = -INFINITY, z = 0;
  for (double x : row) mx = std::max(mx, x / 0.5);
  for (double x : row) z += std::exp(x / 0.5 - mx);
  EXPECT_NEAR(g.logprobs[0], row[g.tokens[0]] / 0.5 - mx - std::log(z), 1e-4);
}

TEST(Generate, SamplingIsReproducibleAndIndependentOfBatchComposition) {
  auto m = tiny_model(false);
  for (auto [top_k, top_p] : {std::pair<int64_t, double>{0, 1.0}, {5, 1.0}, {0, 0.8}}) {
    SamplingOptions o;
    o.max_new_tokens = 12;
    o.temperature = 1.0;
    o.top_k = top_k;
    o.top_p = top_p;
    o.seed = 42;
    const auto all = generate(*m, kPrompts, o);
    EXPECT_EQ(generate(*m, kPrompts, o)[1].tokens, all[1].tokens);
    // sequence i keeps its RNG stream (seed, i) whatever else shares the batch
    const std::vector<std::vector<int32_t>> fewer(kPrompts.begin(), kPrompts.begin() + 2);
    const auto part = generate(*m, fewer, o);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(part[i].tokens, all[i].tokens) << "top_k " << top_k << " top_p " << top_p;
      EXPECT_EQ(part[i].logprobs, all[i].logprobs);
    }
    auto other = o;
    other.seed = 43;
    EXPECT_NE(generate(*m, kPrompts, other)[1].tokens, all[1].tokens);
  }
}

TEST(Generate, PrefillChunkingIsInvisible) {
  auto big = tiny_model(true, {}, 128);
  auto small = tiny_model(true, {}, 8);  // prompts of 3 + 7 + 1 + 4 tokens: several chunks
  SamplingOptions o;
  o.max_new_tokens = 6;
  o.temperature = 1.0;
  o.seed = 9;
  const auto a = generate(*big, kPrompts, o), b = generate(*small, kPrompts, o);
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    EXPECT_EQ(a[i].logprobs, b[i].logprobs);
  }
}

TEST(Generate, ContinuousBatchingWithFewSlotsChangesNothing) {
  for (bool wemask : {false, true}) {
    auto m = tiny_model(false, wemask ? wemask_on() : WeMaskSpec{});
    SamplingOptions o;
    o.max_new_tokens = 9;
    o.temperature = 1.0;
    o.seed = 5;
    const auto free_run = generate(*m, kPrompts, o);
    o.stop_ids = {free_run[1].tokens[2], free_run[3].tokens[0]};  // slots free up at different steps
    const auto all = generate(*m, kPrompts, o);
    for (int64_t slots : {1, 2, 3}) {
      const auto few = generate(*m, kPrompts, o, EngineOptions{slots, /*cuda_graphs=*/slots == 2});  // no-op on CPU
      for (size_t i = 0; i < kPrompts.size(); ++i) {
        EXPECT_EQ(few[i].tokens, all[i].tokens) << slots << " slots, prompt " << i;
        EXPECT_EQ(few[i].logprobs, all[i].logprobs);
        EXPECT_EQ(few[i].stopped, all[i].stopped);
      }
    }
  }
  auto m = tiny_model(true);
  EXPECT_THROW(generate(*m, kPrompts, SamplingOptions{}, EngineOptions{-1}), std::invalid_argument);
}

TEST(Generate, EdgeCasesAndBadInput) {
  auto m = tiny_model(true);
  SamplingOptions o;
  o.max_new_tokens = 0;
  const auto none = generate(*m, kPrompts, o);
  ASSERT_EQ(none.size(), kPrompts.size());
  EXPECT_TRUE(none[0].tokens.empty());
  EXPECT_TRUE(generate(*m, {}, SamplingOptions{}).empty());
  o.max_new_tokens = 3;
  EXPECT_THROW(generate(*m, {{1, 2}, {}}, o), std::invalid_argument);
  EXPECT_THROW(generate(*m, {{1, 64}}, o), std::invalid_argument);
  auto bad = o;
  bad.top_p = 0.0;
  EXPECT_THROW(generate(*m, {{1}}, bad), std::invalid_argument);
  bad = o;
  bad.temperature = -1.0;
  EXPECT_THROW(generate(*m, {{1}}, bad), std::invalid_argument);
  bad = o;
  bad.top_k = -2;
  EXPECT_THROW(generate(*m, {{1}}, bad), std::invalid_argument);
}

TEST(TokenSampler, TruncationRules) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
  // top_k 1 and a tiny top_p both keep only the most likely token (lower id on ties)
  for (float u : {0.0f, 0.5f, 0.999f}) {
    EXPECT_EQ(sample_truncated(logits, 1.0, 1, 1.0, u).id, 1);
    EXPECT_EQ(sample_truncated(logits, 1.0, 0, 1e-6, u).id, 1);
  }
  // top_k 2 splits the mass between ids 1 and 3 evenly
  EXPECT_EQ(sample_truncated(logits, 1.0, 2, 1.0, 0.49f).id, 1);
  EXPECT_EQ(sample_truncated(logits, 1.0, 2, 1.0, 0.51f).id, 3);
  // the log-prob is of the full, untruncated distribution
  double z = 0;
  for (float x : logits) z += std::exp(x);
  EXPECT_NEAR(sample_truncated(logits, 1.0, 2, 1.0, 0.51f).logprob, 3.0 - std::log(z), 1e-6);
  // frequencies with top_p 0.9 follow the renormalised kept mass
  std::map<int32_t, int> count;
  SequenceRng rng(1, 0);
  for (int n = 0; n < 20000; ++n) ++count[sample_truncated(logits, 1.0, 0, 0.9, rng.uniform()).id];
  // kept: 1, 3 (0.41 each of the full mass), 2 (0.15): mass 0.97 >= 0.9
  EXPECT_EQ(count.count(0), 0u);
  EXPECT_EQ(count.count(4), 0u);
  EXPECT_NEAR(count[2] / 20000.0, std::exp(2.0) / (2 * std::exp(3.0) + std::exp(2.0)), 0.015);
}

}  // namespace
}  // namespace wm
