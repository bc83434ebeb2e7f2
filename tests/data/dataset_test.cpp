#include <gtest/gtest.h>

#include <thread>

#include "data/data_error.h"
#include "data/hash.h"
#include "data/dataset.h"
#include "data/prompt_dataset.h"
#include "tests/data/test_assets.h"

namespace wm {
namespace {

using testing::qwen3;
using testing::scratch_dir;
using testing::write_file;

// Expects load_dataset to throw a DataError at `path:line` whose text contains `needle`.
void expect_data_error(const DatasetOptions& o, int64_t line, const std::string& needle) {
  try {
    load_dataset(qwen3(), o);
    ADD_FAILURE() << "expected a DataError at line " << line;
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), o.path);
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_NE(std::string(e.what()).find(o.path + ":" + std::to_string(line) + ":"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

const char* kGoodChat = R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})";

TEST(Dataset, ChatPromptResponseAndText) {
  WM_REQUIRE_QWEN3();
  auto dir = scratch_dir("formats");
  write_file(dir / "chat.jsonl", std::string(kGoodChat) + "\n\n" + kGoodChat + "\n");
  DatasetOptions chat;
  chat.path = (dir / "chat.jsonl").string();
  auto d = load_dataset(qwen3(), chat);
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.source_line(1), 3);  // blank line 2 holds no record
  EXPECT_EQ(d.stats.records, 2);

  write_file(dir / "gsm.jsonl", R"({"question": "1+1?", "response": "2", "answer": "2"})" "\n");
  DatasetOptions pr;
  pr.path = (dir / "gsm.jsonl").string();
  pr.format = DatasetFormat::prompt_response;
  pr.prompt_key = "question";
  pr.response_key = "response";
  pr.loss_mask = LossMaskMode::completion_only;
  auto g = load_dataset(qwen3(), pr);
  ASSERT_EQ(g.size(), 1u);
  std::vector<ChatMessage> msgs = {{"user", "1+1?", {}}, {"assistant", "2", {}}};
  auto expected = tokenize_chat(qwen3(), msgs, LossMaskMode::completion_only, true);
  EXPECT_EQ(std::vector<int32_t>(g.tokens(0).begin(), g.tokens(0).end()), expected.tokens);
  EXPECT_EQ(std::vector<uint8_t>(g.loss_mask(0).begin(), g.loss_mask(0).end()), expected.loss_mask);

  write_file(dir / "corpus.txt", "first doc\nstill first\n\n\nsecond doc\n");
  DatasetOptions txt;
  txt.path = (dir / "corpus.txt").string();
  txt.format = DatasetFormat::text;
  auto t = load_dataset(qwen3(), txt);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.source_line(1), 5);
  EXPECT_EQ(qwen3().decode(std::vector<int32_t>(t.tokens(0).begin(), t.tokens(0).end())), "first doc\nstill first<|endoftext|>");
  EXPECT_EQ(t.stats.loss_tokens, t.stats.tokens);
}

TEST(Dataset, EveryBadInputNamesFileAndLine) {
  WM_REQUIRE_QWEN3();
  auto dir = scratch_dir("bad");
  auto file = [&](const std::string& name, const std::string& bad_line) {
    write_file(dir / name, std::string(kGoodChat) + "\n" + bad_line + "\n" + kGoodChat + "\n");
    return (dir / name).string();
  };
  DatasetOptions o;
  o.path = file("malformed.jsonl", R"({"messages": [)");
  expect_data_error(o, 2, "malformed JSON");
  o.path = file("missing.jsonl", R"({"msgs": []})");
  expect_data_error(o, 2, "missing key 'messages'");
  o.path = file("empty_turn.jsonl", R"({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": ""}]})");
  expect_data_error(o, 2, "empty assistant turn");
  o.path = file("no_role.jsonl", R"({"messages": [{"content": "Q"}]})");
  expect_data_error(o, 2, "missing key 'role'");
  o.path = file("bad_role.jsonl", R"({"messages": [{"role": "robot", "content": "Q"}, {"role": "assistant", "content": "A"}]})");
  expect_data_error(o, 2, "unknown role 'robot'");

  DatasetOptions pr;
  pr.format = DatasetFormat::prompt_response;
  pr.path = file("pr.jsonl", R"({"prompt": "Q"})");
  // line 1 (a chat record) lacks "prompt" too: the first bad line is reported
  expect_data_error(pr, 1, "missing key 'prompt'");
  write_file(dir / "pr2.jsonl", "{\"prompt\": \"Q\", \"response\": \"A\"}\n{\"prompt\": \"Q\", \"response\": \"\"}\n");
  pr.path = (dir / "pr2.jsonl").string();
  expect_data_error(pr, 2, "empty assistant turn");

  DatasetOptions tk;
  tk.format = DatasetFormat::tokens;
  write_file(dir / "ids.jsonl", "{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [1, 151669]}\n");
  tk.path = (dir / "ids.jsonl").string();
  expect_data_error(tk, 2, "token id 151669 at input_ids[1] is outside the vocabulary [0, 151669)");
  write_file(dir / "ids_mask.jsonl", "{\"input_ids\": [1, 2], \"mask\": [0, 0]}\n");
  tk.path = (dir / "ids_mask.jsonl").string();
  tk.mask_key = "mask";
  expect_data_error(tk, 1, "no token in the loss");

  DatasetOptions txt;
  txt.format = DatasetFormat::text;
  write_file(dir / "bad.txt", "fine\n\nbad \xff byte\n");
  txt.path = (dir / "bad.txt").string();
  expect_data_error(txt, 3, "not valid UTF-8");

  DatasetOptions missing;
  missing.path = (dir / "nope.jsonl").string();
  EXPECT_THROW(load_dataset(qwen3(), missing), std::runtime_error);
}

TEST(Dataset, SkipBadExamplesCountsThem) {
  WM_REQUIRE_QWEN3();
  auto dir = scratch_dir("skip");
  write_file(dir / "mixed.jsonl", std::string(kGoodChat) + "\n{oops\n" + R"({"messages": []})" + "\n" + kGoodChat + "\n" +
                                      R"({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": ""}]})" + "\n");
  DatasetOptions o;
  o.path = (dir / "mixed.jsonl").string();
  o.skip_bad_examples = true;
  auto d = load_dataset(qwen3(), o);
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.stats.records, 5);
  EXPECT_EQ(d.stats.skipped, 3);
  EXPECT_EQ(d.stats.records, d.stats.examples + d.stats.skipped);  // nothing unaccounted for
  EXPECT_EQ(d.source_line(1), 4);
}

TEST(Dataset, CacheHitMissAndInvalidation) {
  WM_REQUIRE_QWEN3();
  auto dir = scratch_dir("cache");
  std::string content;
  for (int i = 0; i < 20; ++i) content += kGoodChat + std::string("\n");
  write_file(dir / "data.jsonl", content);
  DatasetOptions o;
  o.path = (dir / "data.jsonl").string();
  o.cache_dir = (dir / "cache").string();
  auto first = load_dataset(qwen3(), o);
  EXPECT_FALSE(first.loaded_from_cache);
  auto second = load_dataset(qwen3(), o);
  EXPECT_TRUE(second.loaded_from_cache);
  ASSERT_EQ(second.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(first.tokens(i), second.tokens(i)));
    EXPECT_TRUE(std::ranges::equal(first.loss_mask(i), second.loss_mask(i)));
    EXPECT_EQ(first.source_line(i), second.source_line(i));
  }
  EXPECT_EQ(second.stats.loss_tokens, first.stats.loss_tokens);
  // Another setting, then another file content: a different key, so no stale hit.
  o.loss_mask = LossMaskMode::all;
  EXPECT_FALSE(load_dataset(qwen3(), o).loaded_from_cache);
  write_file(dir / "data.jsonl", content + kGoodChat + "\n");
  auto changed = load_dataset(qwen3(), o);
  EXPECT_FALSE(changed.loaded_from_cache);
  EXPECT_EQ(changed.size(), 21u);
  // A corrupt cache file is ignored and rewritten.
  const uint64_t key = dataset_cache_key(qwen3(), o);
  for (const auto& entry : std::filesystem::directory_iterator(o.cache_dir))
    if (entry.path().string().find(hex64(key)) != std::string::npos) write_file(entry.path(), "garbage");
  EXPECT_FALSE(load_dataset(qwen3(), o).loaded_from_cache);
  EXPECT_TRUE(load_dataset(qwen3(), o).loaded_from_cache);
}

TEST(PromptDataset, ReadsGsm8kStyleRecords) {
  WM_REQUIRE_QWEN3();
  auto dir = scratch_dir("prompts");
  write_file(dir / "p.jsonl", "{\"question\": \"2+3?\", \"answer\": \"5\"}\n{\"question\": \"x\", \"answer\": 7}\n{\"question\": \"y\"}\n");
  PromptDatasetOptions o;
  o.path = (dir / "p.jsonl").string();
  EXPECT_THROW(read_prompts(o), DataError);
  o.skip_bad_examples = true;
  int64_t skipped = 0;
  auto prompts = read_prompts(o, &skipped);
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(skipped, 1);
  EXPECT_EQ(prompts[1].answer, "7");
  auto ids = tokenize_prompt(qwen3(), "2+3?", "", false);
  EXPECT_EQ(qwen3().decode(ids), "<|im_start|>user\n2+3?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

}  // namespace
}  // namespace wm
