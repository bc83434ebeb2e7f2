// `wemask analyze` end to end on an exported planted-ME model folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/hf_checkpoint.h"
#include "tests/model/analysis/planted_model.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int status;
  std::string log;
};

CommandRun run_wemask(const fs::path& dir, const std::string& args) {
  const fs::path log = dir / "log.txt";
  const std::string cmd = std::string(WEMASK_BINARY) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::stringstream ss;
  ss << std::ifstream(log).rdbuf();
  return {status, ss.str()};
}

TEST(AnalyzeCommand, FindsPlantedLayerInAnExportedFolder) {
  const fs::path dir = fs::temp_directory_path() / ("wemask_analyze_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  analysis::testing::PlantSpec p;
  p.me_layer = 3;
  p.dims = {21, 9};
  p.values = {1500.0f, 700.0f};
  const Qwen3Config cfg = analysis::testing::planted_config();
  ModelOptions opt;
  opt.max_tokens = 16;
  Qwen3Model model(cfg, opt);
  analysis::testing::init_planted(model.params(), cfg, p);
  HfExportOptions ex;
  ex.store_dtype = DType::F32;
  export_hf_folder((dir / "model").string(), cfg, model.params().params(), ex);
  {
    std::ofstream tokens(dir / "tokens.jsonl");
    for (const auto& doc : analysis::testing::planted_documents(cfg, p, 5, 11))
      tokens << nlohmann::json{{"tokens", doc}}.dump() << "\n";
  }
  const std::string base = "analyze --model " + (dir / "model").string() + " --output " + (dir / "out").string();
  CommandRun r = run_wemask(dir, base + " --tokens " + (dir / "tokens.jsonl").string() + " --max-tokens 24");
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("ME layer: 3"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("massive dims: 21,9"), std::string::npos) << r.log;
  for (const char* f : {"report.json", "tokens.jsonl", "first_token_heatmap.svg", "max_magnitude.svg", "sink_ratio.svg"})
    EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  nlohmann::json report;
  std::ifstream(dir / "out" / "report.json") >> report;
  EXPECT_EQ(report["me_layer"], 3);
  EXPECT_EQ(report["calibration"]["documents"], 5);
  EXPECT_EQ(report["calibration"]["format"], "tokens");

  // A stricter rule than the planted value allows: a clear "not found", still a report.
  r = run_wemask(dir, base + " --tokens " + (dir / "tokens.jsonl").string() + " --min-ratio 1e6");
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("ME layer: not found"), std::string::npos) << r.log;

  // Prompts need a tokenizer; the folder has none.
  r = run_wemask(dir, base + " --prompts " + std::string(WEMASK_SOURCE_DIR) + "/configs/calibration_prompts.jsonl");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("no tokenizer.json"), std::string::npos) << r.log;
  r = run_wemask(dir, base + " --tokens " + (dir / "tokens.jsonl").string() + " --min-ratio abc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("--min-ratio"), std::string::npos) << r.log;
  {
    std::ofstream(dir / "bad.jsonl") << "{\"tokens\": [7, 8]}\n{\"tokens\": [7, \"x\"]}\n";
  }
  r = run_wemask(dir, base + " --tokens " + (dir / "bad.jsonl").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("bad.jsonl:2"), std::string::npos) << r.log;
  fs::remove_all(dir);
}

// The default calibration prompts, chat-templated with the real tokenizer: every prompt starts
// with <|im_start|>, the planted sink token.
TEST(AnalyzeCommand, DefaultPromptsThroughTheChatTemplate) {
  const std::string tokenizer = std::string(WEMASK_SOURCE_DIR) + "/assets/qwen3-tokenizer";
  if (!fs::exists(tokenizer + "/tokenizer.json"))
    GTEST_SKIP() << "the Qwen3 tokenizer is not in " << tokenizer << " (run launch/fetch_assets.sh)";
  const fs::path dir = fs::temp_directory_path() / ("wemask_analyze_chat_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  analysis::testing::PlantSpec p;
  p.sink_token = 151644;  // <|im_start|>
  Qwen3Config cfg = analysis::testing::planted_config();
  cfg.vocab_size = 151936;
  ModelOptions opt;
  opt.max_tokens = 16;
  Qwen3Model model(cfg, opt);
  analysis::testing::init_planted(model.params(), cfg, p);
  HfExportOptions ex;
  ex.store_dtype = DType::F32;
  export_hf_folder((dir / "model").string(), cfg, model.params().params(), ex);
  const CommandRun r = run_wemask(dir, "analyze --model " + (dir / "model").string() + " --tokenizer " + tokenizer +
                                           " --output " + (dir / "out").string() + " --prompts " +
                                           WEMASK_SOURCE_DIR + "/configs/calibration_prompts.jsonl");
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("ME layer: 2"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("massive dims: 3,17"), std::string::npos) << r.log;
  nlohmann::json report;
  std::ifstream(dir / "out" / "report.json") >> report;
  EXPECT_EQ(report["calibration"]["documents"], 16);
  EXPECT_EQ(report["calibration"]["format"], "chat");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wm
