// Reward functions (GSM8K, MATH, format, exact), the registry and weighted combinations.
#include <gtest/gtest.h>

#include "rl/grpo_config.h"
#include "rl/rewards.h"
#include "tests/data/test_assets.h"
#include "trainer/config/config_value.h"

namespace wm::rl {
namespace {

double r(double (*fn)(const RewardInput&), const std::string& response, const std::string& gold) {
  return fn({response, {}, gold});
}

TEST(Rewards, Gsm8kAfterHashesAndNormalised) {
  EXPECT_EQ(r(gsm8k_reward, "She pays 3 * 4 = 12.\n#### 12", "#### 12"), 1.0);
  EXPECT_EQ(r(gsm8k_reward, "The total is\n#### $1,250.00", "1250"), 1.0);  // $, comma, trailing .00
  EXPECT_EQ(r(gsm8k_reward, "#### 18.0", "18"), 1.0);
  EXPECT_EQ(r(gsm8k_reward, "#### 17", "Natalia sold 48/2 = 24 clips...\n#### 18"), 0.0);
  EXPECT_EQ(r(gsm8k_reward, "no answer at all", "18"), 0.0);
  // The last "####" counts.
  EXPECT_EQ(r(gsm8k_reward, "#### 5\nwait, recheck\n#### 6", "6"), 1.0);
}

TEST(Rewards, MathLastBoxedWithLatexNormalisation) {
  EXPECT_EQ(r(math_reward, "so \\boxed{2} ... finally \\boxed{\\dfrac{1}{2}}", "\\frac12"), 1.0);
  EXPECT_EQ(r(math_reward, "\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "(3,\\frac{\\pi}{2})"), 1.0);
  EXPECT_EQ(r(math_reward, "\\boxed{0.5}", "\\frac{1}{2}"), 1.0);  // numeric equivalence
  EXPECT_EQ(r(math_reward, "\\boxed{\\frac{1}{3}}", "\\frac{1}{2}"), 0.0);
  EXPECT_EQ(r(math_reward, "the answer is 1/2 but unboxed", "\\frac{1}{2}"), 0.0);
}

TEST(Rewards, FormatThinkThenAnswer) {
  EXPECT_EQ(r(format_reward, "<think>3+4=7</think>\nThe answer is \\boxed{7}", "7"), 1.0);
  EXPECT_EQ(r(format_reward, "  <think>x</think> #### 7", ""), 1.0);
  EXPECT_EQ(r(format_reward, "<think>x</think> seven", ""), 0.0);           // no final answer
  EXPECT_EQ(r(format_reward, "<think>x", ""), 0.0);                         // unclosed
  EXPECT_EQ(r(format_reward, "<think>a</think><think>b</think> #### 1", ""), 0.0);  // two blocks
  EXPECT_EQ(r(format_reward, "#### 7", ""), 0.5);                           // answer without thinking
  EXPECT_EQ(r(format_reward, "just text", ""), 0.0);
}

TEST(Rewards, ExactTrimsWhitespace) {
  EXPECT_EQ(r(exact_reward, " 7\n", "7"), 1.0);
  EXPECT_EQ(r(exact_reward, "7 12", "7"), 0.0);
}

TEST(Rewards, RegistryAddsOneFunctionWithOneCall) {
  EXPECT_FALSE(has_reward("test_length_penalty"));
  register_reward("test_length_penalty",
                  [](const RewardInput& in) { return -0.01 * static_cast<double>(in.response_ids.size()); });
  EXPECT_TRUE(has_reward("test_length_penalty"));
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  CombinedReward combined(parse_reward_terms("gsm8k + 0.5 * format + 2*test_length_penalty", "reward.terms"));
  ASSERT_EQ(combined.terms().size(), 3u);
  const auto v = combined({"<think>ok</think> #### 12", ids, "12"});
  EXPECT_NEAR(v.total, 1.0 + 0.5 * 1.0 + 2 * -0.04, 1e-12);
  EXPECT_TRUE(v.correct);
  const auto wrong = combined({"#### 13", ids, "12"});
  EXPECT_NEAR(wrong.total, 0.5 * 0.5 - 0.08, 1e-12);
  EXPECT_FALSE(wrong.correct);
  EXPECT_THROW(register_reward("", [](const RewardInput&) { return 0.0; }), std::invalid_argument);
  EXPECT_THROW(register_reward("x", RewardFn{}), std::invalid_argument);
}

TEST(Rewards, UnknownNamesAndBadExpressionsNameTheKey) {
  try {
    parse_reward_terms("gsm8k + 0.1*fromat", "reward.terms");
    FAIL() << "expected an error";
  } catch (const config::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("reward.terms"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'format'"), std::string::npos) << msg;
  }
  EXPECT_THROW(parse_reward_terms("0.1 format", "reward.terms"), config::ConfigError);
  EXPECT_THROW(parse_reward_terms("gsm8k +", "reward.terms"), config::ConfigError);
  EXPECT_THROW(parse_reward_terms("", "reward.terms"), config::ConfigError);
  EXPECT_THROW(find_reward("nope"), std::invalid_argument);
  auto one = parse_reward_terms("math", "k");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].weight, 1.0);
}

TEST(Rewards, DecodeResponseDropsStopIdsAndIdsPastTheTokenizer) {
  const std::vector<int32_t> stop = {12};
  EXPECT_EQ(decode_response(nullptr, std::vector<int32_t>{7, 3, 12}, stop), "7 3");
  EXPECT_EQ(decode_response(nullptr, std::vector<int32_t>{12}, stop), "");
  if (!testing::have_qwen3()) GTEST_SKIP() << "no tokenizer in assets/qwen3-tokenizer";
  const Tokenizer& tok = testing::qwen3();
  std::vector<int32_t> ids = tok.encode("#### 42");
  const int32_t im_end = tok.require_token_id("<|im_end|>");
  // An id of the model's padded embedding rows (Qwen3: 151936 > tokenizer's 151669) and a stop id.
  ids.insert(ids.begin() + 1, tok.vocab_size() + 5);
  ids.push_back(im_end);
  const std::vector<int32_t> stops = {im_end};
  EXPECT_EQ(decode_response(&tok, ids, stops), "#### 42");
  EXPECT_EQ(gsm8k_reward({decode_response(&tok, ids, stops), ids, "42"}), 1.0);
}

}  // namespace
}  // namespace wm::rl
