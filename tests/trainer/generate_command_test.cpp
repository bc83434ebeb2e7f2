// `wemask generate` end to end on a tiny random model with the real Qwen3 tokenizer: the greedy
// completion equals generate() called on the same folder and token ids; --chat, --prompts JSONL,
// sampling, WeMask overrides and bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "model/generate.h"
#include "model/hf_checkpoint.h"
#include "model/pretrained.h"
#include "tests/model/model_test_util.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int status;
  std::string log;
};

CommandRun run_wemask(const fs::path& dir, const std::string& args) {
  const fs::path log = dir / "log.txt";
  const int status = std::system((std::string(WEMASK_BINARY) + " " + args + " > " + log.string() + " 2>&1").c_str());
  std::stringstream ss;
  ss << std::ifstream(log).rdbuf();
  return {status, ss.str()};
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(GenerateCommand, RunsEndToEndOnATinyRandomModel) {
  const std::string tokenizer = std::string(WEMASK_SOURCE_DIR) + "/assets/qwen3-tokenizer";
  if (!fs::exists(tokenizer + "/tokenizer.json"))
    GTEST_SKIP() << "the Qwen3 tokenizer is not in " << tokenizer << " (run launch/fetch_assets.sh)";
  const fs::path d = fs::temp_directory_path() / ("wemask_generate_cmd_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  Qwen3Config cfg = test::tiny_config(true);
  cfg.vocab_size = 151936;
  cfg.hidden_size = 16;
  cfg.intermediate_size = 24;
  cfg.max_position_embeddings = 512;
  {
    ModelOptions opt;
    opt.max_tokens = 8;
    Qwen3Model model(cfg, opt);
    test::init_random(model.params(), 3);
    HfExportOptions ex;
    ex.store_dtype = DType::F32;
    export_hf_folder((d / "model").string(), cfg, model.params().params(), ex);
  }
  const std::string base = "generate --model " + (d / "model").string() + " --tokenizer " + tokenizer;

  // greedy: the command's tokens are the library's on the same folder and prompt ids
  CommandRun r = run_wemask(d, base + " --prompt 'The answer is' --max-new-tokens 5 --temperature 0 --output " +
                                   (d / "greedy.jsonl").string());
  ASSERT_EQ(r.status, 0) << r.log;
  auto rows = read_jsonl(d / "greedy.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  const Tokenizer tok = Tokenizer::from_dir(tokenizer);
  ModelOptions opt;
  opt.inference_only = true;
  auto model = load_pretrained((d / "model").string(), opt);
  SamplingOptions so;
  so.max_new_tokens = 5;
  so.temperature = 0.0;
  so.stop_ids = {tok.require_token_id("<|im_end|>"), tok.require_token_id("<|endoftext|>")};
  const auto want = generate(*model, {tok.encode("The answer is")}, so)[0];
  EXPECT_EQ(rows[0]["tokens"].get<std::vector<int32_t>>(), want.tokens);
  EXPECT_EQ(rows[0]["completion"].get<std::string>(), tok.decode(want.tokens, true));
  EXPECT_EQ(rows[0]["logprobs"].size(), want.tokens.size());
  EXPECT_NE(r.log.find(tok.decode(want.tokens, true)), std::string::npos) << r.log;

  // a JSONL of prompts through the chat template, sampled, with WeMask on layer 1
  std::ofstream(d / "prompts.jsonl") << "{\"prompt\": \"What is 2+2?\"}\n\n{\"question\": \"Name a colour.\"}\n";
  r = run_wemask(d, base + " --prompts " + (d / "prompts.jsonl").string() +
                        " --chat --max-new-tokens 4 --temperature 0.8 --top-k 50 --top-p 0.9 --seed 2 "
                        "--set wemask.mask_rate=0.25 --set wemask.me_layer=1 --output " + (d / "chat.jsonl").string());
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("WeMask on (1 layers"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("=== prompt 1 ("), std::string::npos) << r.log;
  rows = read_jsonl(d / "chat.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_GT(rows[0]["prompt_tokens"].get<int>(), 10);  // the chat template's tokens
  EXPECT_LE(rows[1]["tokens"].size(), 4u);

  // bad input: clear errors
  r = run_wemask(d, base + " --prompt a --prompts " + (d / "prompts.jsonl").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("exactly one of --prompt"), std::string::npos) << r.log;
  std::ofstream(d / "bad.jsonl") << "{\"prompt\": \"ok\"}\n{\"answer\": 1}\n";
  r = run_wemask(d, base + " --prompts " + (d / "bad.jsonl").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("bad.jsonl:2"), std::string::npos) << r.log;
  r = run_wemask(d, base + " --prompt a --set wemask.mask_rate=0.25");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("wemask.me_layer"), std::string::npos) << r.log;
  r = run_wemask(d, base + " --prompt a --top-p 0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("top_p"), std::string::npos) << r.log;
  fs::remove_all(d);
}

}  // namespace
}  // namespace wm
