#include <gtest/gtest.h>

#include "data/chat_template.h"
#include "data/sft_example.h"
#include "tests/data/test_assets.h"

namespace wm {
namespace {

using testing::qwen3;
using testing::read_json;
using testing::source_path;

std::vector<ChatMessage> messages_from_json(const nlohmann::json& j) {
  std::vector<ChatMessage> out;
  for (const auto& m : j) {
    ChatMessage msg{m.at("role"), m.at("content"), std::nullopt};
    if (m.contains("reasoning_content")) msg.reasoning_content = m.at("reasoning_content").get<std::string>();
    out.push_back(msg);
  }
  return out;
}

// Text of the tokens whose mask is on, runs joined by '|'.
std::string masked_text(const TokenizedExample& ex) {
  std::string out;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    if (!out.empty()) out += "|";
    out += qwen3().decode(run);
    run.clear();
  };
  for (size_t i = 0; i < ex.tokens.size(); ++i) {
    if (ex.loss_mask[i]) run.push_back(ex.tokens[i]);
    else flush();
  }
  flush();
  return out;
}

TEST(ChatTemplate, RenderedTextMatchesHfGolden) {
  const auto golden = read_json(source_path("tests/fixtures/chat_template_golden.json"));
  ASSERT_GE(golden.at("cases").size(), 40u);
  for (const auto& c : golden.at("cases")) {
    ChatRenderOptions opt{c.at("add_generation_prompt"), c.at("enable_thinking")};
    auto msgs = messages_from_json(c.at("messages"));
    EXPECT_EQ(render_qwen3_chat(msgs, opt).text, c.at("text").get<std::string>()) << c.at("messages").dump();
  }
}

TEST(ChatTemplate, IdsMatchHfGolden) {
  WM_REQUIRE_QWEN3();
  const auto golden = read_json(source_path("tests/fixtures/chat_template_golden.json"));
  for (const auto& c : golden.at("cases")) {
    ChatRenderOptions opt{c.at("add_generation_prompt"), c.at("enable_thinking")};
    auto msgs = messages_from_json(c.at("messages"));
    auto expected = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(qwen3().encode(render_qwen3_chat(msgs, opt).text), expected) << c.at("messages").dump();
    // Training examples (no generation prompt) tokenize to the same ids through tokenize_chat.
    bool has_assistant = false;
    for (const auto& m : msgs) has_assistant |= m.role == "assistant";
    if (!opt.add_generation_prompt && has_assistant)
      EXPECT_EQ(tokenize_chat(qwen3(), msgs, LossMaskMode::all, opt.enable_thinking).tokens, expected);
  }
}

TEST(ChatTemplate, UnknownRoleIsAnError) {
  std::vector<ChatMessage> msgs = {{"user", "hi", {}}, {"robot", "beep", {}}};
  EXPECT_THROW(render_qwen3_chat(msgs, {}), std::invalid_argument);
}

const std::vector<ChatMessage> kTwoTurns = {
    {"system", "Be brief.", {}},
    {"user", "Q1", {}},
    {"assistant", "A1", {}},
    {"user", "Q2", {}},
    {"assistant", "A2 done", {}},
};

TEST(LossMask, AssistantTurnsOnly) {
  WM_REQUIRE_QWEN3();
  auto ex = tokenize_chat(qwen3(), kTwoTurns, LossMaskMode::assistant, true);
  ASSERT_EQ(ex.tokens.size(), ex.loss_mask.size());
  EXPECT_EQ(masked_text(ex), "A1<|im_end|>|<think>\n\n</think>\n\nA2 done<|im_end|>");
}

TEST(LossMask, LastTurnAndCompletionOnly) {
  WM_REQUIRE_QWEN3();
  EXPECT_EQ(masked_text(tokenize_chat(qwen3(), kTwoTurns, LossMaskMode::last_turn, true)),
            "<think>\n\n</think>\n\nA2 done<|im_end|>");
  EXPECT_EQ(masked_text(tokenize_chat(qwen3(), kTwoTurns, LossMaskMode::completion_only, true)), "A2 done<|im_end|>");
  // With reasoning, completion_only keeps the think block: it is data.
  std::vector<ChatMessage> with_reasoning = {{"user", "Q", {}}, {"assistant", "<think>\nhmm\n</think>\n\nA", {}}};
  EXPECT_EQ(masked_text(tokenize_chat(qwen3(), with_reasoning, LossMaskMode::completion_only, true)),
            "<think>\nhmm\n</think>\n\nA<|im_end|>");
}

TEST(LossMask, AllTokens) {
  WM_REQUIRE_QWEN3();
  auto ex = tokenize_chat(qwen3(), kTwoTurns, LossMaskMode::all, true);
  EXPECT_EQ(ex.loss_tokens(), static_cast<int64_t>(ex.tokens.size()));
}

TEST(LossMask, EmptyOrMissingAssistantTurnIsAnError) {
  WM_REQUIRE_QWEN3();
  std::vector<ChatMessage> empty = {{"user", "Q", {}}, {"assistant", "", {}}};
  EXPECT_THROW(tokenize_chat(qwen3(), empty, LossMaskMode::assistant, true), std::invalid_argument);
  std::vector<ChatMessage> none = {{"user", "Q", {}}};
  EXPECT_THROW(tokenize_chat(qwen3(), none, LossMaskMode::assistant, true), std::invalid_argument);
  EXPECT_THROW(parse_loss_mask_mode("assistants"), std::invalid_argument);
}

TEST(LossMask, PlainTextHasEveryTokenAndEos) {
  WM_REQUIRE_QWEN3();
  auto ex = tokenize_text(qwen3(), "Some text.", qwen3().require_token_id("<|endoftext|>"));
  EXPECT_EQ(ex.tokens.back(), 151643);
  EXPECT_EQ(ex.loss_tokens(), static_cast<int64_t>(ex.tokens.size()));
}

}  // namespace
}  // namespace wm
