// `wemask score` end to end on the tiny HF fixture model: log-probs equal log_softmax of the
// Hugging Face golden logits; bad lines and out-of-vocabulary ids fail naming file and line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "kernels/buffer.h"
#include "model/safetensors.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
const fs::path kModel = fs::path(WEMASK_SOURCE_DIR) / "tests" / "fixtures" / "qwen3_tiny_a";

struct ScoreRun {
  int status;
  std::string log;
};

ScoreRun run_score(const fs::path& dir, const std::string& input_text) {
  const fs::path input = dir / "in.jsonl", output = dir / "out.jsonl", log = dir / "log.txt";
  std::ofstream(input) << input_text;
  const std::string cmd = std::string(WEMASK_BINARY) + " score --model " + kModel.string() + " --input " +
                          input.string() + " --output " + output.string() + " --max-tokens 16 > " +
                          log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::stringstream ss;
  ss << std::ifstream(log).rdbuf();
  return {status, ss.str()};
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("wemask_score_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(ScoreCommand, LogprobsMatchHfLogits) {
  const fs::path dir = temp_dir("ok");
  nlohmann::json golden;
  std::ifstream(kModel / "golden" / "plain.json") >> golden;
  std::string input;
  for (const auto& doc : golden["documents"]) input += nlohmann::json{{"tokens", doc["tokens"]}}.dump() + "\n\n";
  const ScoreRun r = run_score(dir, input);
  ASSERT_EQ(r.status, 0) << r.log;

  const SafetensorsFile tensors((kModel / "golden" / "plain.safetensors").string());
  const auto& e = tensors.at("logits");
  OwnedTensor logits({e.shape[0], e.shape[1]}, DType::F32);
  tensors.read_into("logits", logits.t());
  const int64_t V = e.shape[1];

  std::ifstream out(dir / "out.jsonl");
  std::string line;
  int64_t row = 0;
  size_t doc_index = 0;
  while (std::getline(out, line)) {
    ASSERT_LT(doc_index, golden["documents"].size());
    const auto tokens = golden["documents"][doc_index++]["tokens"].get<std::vector<int>>();
    const auto j = nlohmann::json::parse(line);
    const auto logprobs = j["logprobs"].get<std::vector<double>>();
    ASSERT_EQ(logprobs.size(), tokens.size() - 1);
    double mean_loss = 0.0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      const float* x = logits.ptr<float>() + (row + static_cast<int64_t>(i)) * V;
      double mx = x[0], s = 0.0;
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(x[v]));
      for (int64_t v = 0; v < V; ++v) s += std::exp(x[v] - mx);
      const double expect = x[tokens[i + 1]] - mx - std::log(s);
      EXPECT_NEAR(logprobs[i], expect, 1e-4 * std::max(1.0, std::abs(expect))) << "doc " << doc_index << " token " << i;
      mean_loss -= expect / static_cast<double>(tokens.size() - 1);
    }
    EXPECT_NEAR(j["mean_loss"].get<double>(), mean_loss, 1e-4);
    row += static_cast<int64_t>(tokens.size());
  }
  EXPECT_EQ(doc_index, golden["documents"].size());
  fs::remove_all(dir);
}

TEST(ScoreCommand, BadLineNamesFileAndLine) {
  const fs::path dir = temp_dir("bad");
  ScoreRun r = run_score(dir, "{\"tokens\": [1, 2, 3]}\n{\"tokens\": [1, 2,\n");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("in.jsonl:2"), std::string::npos) << r.log;

  r = run_score(dir, "{\"tokens\": [1, 2, 3]}\n{\"ids\": [1]}\n");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("in.jsonl:2"), std::string::npos) << r.log;

  r = run_score(dir, "{\"tokens\": [1, 2]}\n\n{\"tokens\": [4, 999, 5]}\n");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.log.find("in.jsonl:3"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("token id 999"), std::string::npos) << r.log;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wm
