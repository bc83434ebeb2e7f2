// The slow no-KV-cache decoding path: greedy equals argmax over a manually grown sequence,
// packing several prompts changes nothing, stop ids stop, sampling follows the distribution.
#include "model/naive_generate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/host_io.h"
#include "tests/model/model_test_util.h"

namespace wm {
namespace {

std::unique_ptr<Qwen3Model> tiny_model() {
  ModelOptions opt;
  opt.max_tokens = 64;
  auto m = std::make_unique<Qwen3Model>(test::tiny_config(true), opt);
  test::init_random(m->params(), 21);
  return m;
}

int32_t manual_argmax_next(Qwen3Model& m, const std::vector<int32_t>& seq) {
  const int64_t T = static_cast<int64_t>(seq.size()), V = m.config().vocab_size;
  OwnedTensor logits({T, V}, DType::F32);
  m.forward_logits(Batch(pack_documents({{seq}}, T), Device::CPU), logits.t());
  const auto row = to_host_f64(logits.t().slice(T - 1, T));
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

TEST(NaiveGenerate, GreedyMatchesManualArgmaxAndPackingIsInvisible) {
  auto m = tiny_model();
  const std::vector<std::vector<int32_t>> prompts = {{5, 17, 42}, {7, 3, 60, 11, 2}, {9}};
  NaiveSamplingOptions opt;
  opt.max_new_tokens = 6;
  const auto together = generate_without_cache(*m, prompts, opt);
  ASSERT_EQ(together.size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> seq = prompts[i];
    std::vector<int32_t> want;
    for (int s = 0; s < 6; ++s) {
      want.push_back(manual_argmax_next(*m, seq));
      seq.push_back(want.back());
    }
    EXPECT_EQ(together[i].tokens, want) << "prompt " << i;
    EXPECT_FALSE(together[i].stopped);
    EXPECT_EQ(generate_without_cache(*m, {prompts[i]}, opt)[0].tokens, want);
  }
}

TEST(NaiveGenerate, StopsOnStopIdAndChecksLengths) {
  auto m = tiny_model();
  NaiveSamplingOptions opt;
  opt.max_new_tokens = 6;
  const auto free_run = generate_without_cache(*m, {{5, 17, 42}}, opt)[0].tokens;
  opt.stop_ids = {free_run[2]};
  const auto stopped = generate_without_cache(*m, {{5, 17, 42}}, opt)[0];
  EXPECT_TRUE(stopped.stopped);
  const auto first_stop = std::find(free_run.begin(), free_run.end(), free_run[2]) - free_run.begin();
  EXPECT_EQ(stopped.tokens.size(), static_cast<size_t>(first_stop + 1));
  opt.max_new_tokens = 62;
  EXPECT_THROW(generate_without_cache(*m, {{5, 17, 42}}, opt), std::invalid_argument);
  opt.max_new_tokens = 2;
  EXPECT_THROW(generate_without_cache(*m, {{5, 640}}, opt), std::invalid_argument);
  EXPECT_THROW(generate_without_cache(*m, {{}}, opt), std::invalid_argument);
}

TEST(NaiveGenerate, SamplingFollowsTemperatureAndTopP) {
  const std::vector<double> logits = {0.0, std::log(3.0), -1e9};
  uint64_t state = 1;
  EXPECT_EQ(pick_token(logits, 0.0, 1.0, state), 1);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += pick_token(logits, 1.0, 1.0, state) == 1;
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.02);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(pick_token(logits, 1.0, 0.5, state), 1);  // nucleus = {1}
  // seeded sampling is reproducible
  auto m = tiny_model();
  NaiveSamplingOptions opt;
  opt.max_new_tokens = 5;
  opt.temperature = 1.0;
  opt.seed = 9;
  EXPECT_EQ(generate_without_cache(*m, {{1, 2}}, opt)[0].tokens, generate_without_cache(*m, {{1, 2}}, opt)[0].tokens);
}

}  // namespace
}  // namespace wm
