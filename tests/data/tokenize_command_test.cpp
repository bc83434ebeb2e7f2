#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "tests/data/test_assets.h"

namespace wm {
namespace {

struct CommandResult {
  int status;
  std::string output;
};

CommandResult run_command(const std::string& cmd) {
  CommandResult r{-1, ""};
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  r.status = pclose(pipe);
  return r;
}

TEST(TokenizeCommand, PrintsIdsForTextAndJsonl) {
  WM_REQUIRE_QWEN3();
  auto dir = testing::scratch_dir("tokenize_cmd");
  testing::write_file(dir / "in.txt", "Hello, world!\nThe answer is 121.\n");
  testing::write_file(dir / "in.jsonl", "{\"question\": \"Hello, world!\", \"n\": 3}\n");
  const std::string base = std::string(WEMASK_BINARY) + " tokenize --model " + testing::qwen3_dir();
  auto text = run_command(base + " --input " + (dir / "in.txt").string());
  EXPECT_EQ(text.status, 0) << text.output;
  auto line = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s + "\n";
  };
  EXPECT_EQ(text.output, line(testing::qwen3().encode("Hello, world!")) + line(testing::qwen3().encode("The answer is 121.")));
  auto jsonl = run_command(base + " --input " + (dir / "in.jsonl").string() + " --jsonl-key question");
  EXPECT_EQ(jsonl.status, 0);
  EXPECT_EQ(jsonl.output, line(testing::qwen3().encode("Hello, world!")));
  // A key that is not a string: an error naming file and line, non-zero exit.
  auto bad = run_command(base + " --input " + (dir / "in.jsonl").string() + " --jsonl-key n");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find((dir / "in.jsonl").string() + ":1: key 'n' is not a string"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace wm
