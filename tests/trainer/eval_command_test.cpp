// `wemask eval` plumbing: benchmark files, --set wemask.* parsing, and the whole command on a tiny
// random model with the real Qwen3 tokenizer (accuracy is ~0; the test checks the pipeline).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/hf_checkpoint.h"
#include "model/qwen3.h"
#include "tests/model/model_test_util.h"
#include "trainer/config/config_value.h"
#include "trainer/eval/benchmark.h"
#include "trainer/eval/wemask_overrides.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("wemask_eval_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(EvalBenchmark, ReadsGsm8kAndMathAndNamesBadLines) {
  const fs::path d = scratch("bench");
  std::ofstream(d / "g.jsonl") << "{\"question\": \"1+1?\", \"answer\": \"2\", \"response\": \"x\"}\n\n"
                                  "{\"question\": \"2+2?\", \"answer\": 4}\n{\"question\": \"3?\", \"answer\": \"3\"}\n";
  auto b = eval::read_benchmark((d / "g.jsonl").string(), "auto", 2);
  EXPECT_EQ(b.name, "gsm8k");
  EXPECT_EQ(b.style, math::AnswerStyle::Gsm8k);
  ASSERT_EQ(b.examples.size(), 2u);
  EXPECT_EQ(b.examples[1].gold, "4");
  EXPECT_EQ(b.examples[1].line, 3u);
  std::ofstream(d / "m.jsonl") << "{\"problem\": \"p\", \"solution\": \"s\", \"answer\": \"\\\\frac{1}{2}\"}\n";
  b = eval::read_benchmark((d / "m.jsonl").string(), "auto");
  EXPECT_EQ(b.name, "math500");
  EXPECT_EQ(b.examples[0].gold, "\\frac{1}{2}");
  std::ofstream(d / "bad.jsonl") << "{\"question\": \"q\", \"answer\": \"1\"}\n{\"question\": \"q\"}\n";
  try {
    eval::read_benchmark((d / "bad.jsonl").string(), "gsm8k");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eval::read_benchmark((d / "g.jsonl").string(), "math500"), std::runtime_error);
  EXPECT_THROW(eval::read_benchmark((d / "g.jsonl").string(), "aime"), std::invalid_argument);
  fs::remove_all(d);
}

TEST(EvalWeMaskOverrides, ParsesTrainKeysOnly) {
  auto w = eval::parse_wemask_overrides({});
  EXPECT_FALSE(w.enabled);
  const std::vector<std::string> sets = {"wemask.mask_rate=0.1", "wemask.me_layer=1"};
  w = eval::parse_wemask_overrides(sets);
  EXPECT_TRUE(w.enabled);
  EXPECT_DOUBLE_EQ(w.options.mask_rate, 0.1);
  const WeMaskSpec spec = eval::to_spec(w, 1, 3);
  EXPECT_EQ(spec.layers, (std::vector<int>{1, 2}));
  const std::vector<std::string> off = {"wemask.mask_rate=0.1", "wemask.enabled=false"};
  EXPECT_FALSE(eval::parse_wemask_overrides(off).enabled);
  const std::vector<std::string> other = {"optim.lr=1"};
  EXPECT_THROW(eval::parse_wemask_overrides(other), config::ConfigError);
  const std::vector<std::string> bad = {"wemask.mask_rate=2"};
  EXPECT_THROW(eval::parse_wemask_overrides(bad), config::ConfigError);
}

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

TEST(EvalCommand, RunsEndToEndOnATinyRandomModel) {
  const std::string tokenizer = std::string(WEMASK_SOURCE_DIR) + "/assets/qwen3-tokenizer";
  if (!fs::exists(tokenizer + "/tokenizer.json"))
    GTEST_SKIP() << "the Qwen3 tokenizer is not in " << tokenizer << " (run launch/fetch_assets.sh)";
  const fs::path d = scratch("cmd");
  Qwen3Config cfg = test::tiny_config(true);
  cfg.vocab_size = 151936;
  cfg.hidden_size = 16;
  cfg.intermediate_size = 24;
  cfg.max_position_embeddings = 512;
  ModelOptions opt;
  opt.max_tokens = 8;
  Qwen3Model model(cfg, opt);
  test::init_random(model.params(), 3);
  HfExportOptions ex;
  ex.store_dtype = DType::F32;
  export_hf_folder((d / "model").string(), cfg, model.params().params(), ex);
  std::ofstream(d / "gsm8k.jsonl") << "{\"question\": \"Tom has 3 apples and buys 4 more. How many?\", \"answer\": \"7\"}\n"
                                      "{\"question\": \"What is 10 - 4?\", \"answer\": \"6\"}\n"
                                      "{\"question\": \"never read\", \"answer\": \"1\"}\n";
  const std::string base = "eval --model " + (d / "model").string() + " --tokenizer " + tokenizer + " --data " +
                           (d / "gsm8k.jsonl").string() + " --limit 2 --max-new-tokens 3 --batch 2";
  CommandRun r = run_wemask(d, base + " --output " + (d / "out.jsonl").string());
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("gsm8k accuracy: "), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("/2 = "), std::string::npos) << r.log;
  std::ifstream out(d / "out.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(out, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["index"], n);
    EXPECT_EQ(j["gold"], n == 0 ? "7" : "6");
    EXPECT_EQ(j["gold_normalized"], n == 0 ? "7" : "6");
    EXPECT_LE(j["completion_tokens"].get<int>(), 3);
    EXPECT_GT(j["prompt_tokens"].get<int>(), 10);
    EXPECT_TRUE(j.contains("extracted") && j.contains("correct") && j.contains("completion"));
    ++n;
  }
  EXPECT_EQ(n, 2);

  // sampled, with WeMask on layers 1.. of the 2-layer model
  r = run_wemask(d, base + " --temperature 0.7 --top-p 0.9 --seed 3 --set wemask.mask_rate=0.25 --set wemask.me_layer=1");
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("WeMask on (1 layers"), std::string::npos) << r.log;

  // me_layer defaults to auto: the detector runs on the calibration prompts and, on a random
  // model, refuses with its reason instead of inventing a layer
  r = run_wemask(d, base + " --set wemask.mask_rate=0.25");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("found no ME layer"), std::string::npos) << r.log;

  r = run_wemask(d, base + " --set optim.lr=1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("only wemask.* keys"), std::string::npos) << r.log;
  r = run_wemask(d, "eval --model " + (d / "model").string() + " --data " + (d / "gsm8k.jsonl").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("no tokenizer.json"), std::string::npos) << r.log;
  fs::remove_all(d);
}

}  // namespace
}  // namespace wm
