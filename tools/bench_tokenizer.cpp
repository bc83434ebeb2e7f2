// Tokenizer encode speed on a JSONL file, the same measurement as
// tests/fixtures/make_tokenizer_golden.py --bench-jsonl does for HF tokenizers: every record's
// question and response encoded one at a time on one thread, best of 3 passes.
// A self-contained static build (to run it beside HF on another machine):
//   g++ -O2 -std=c++20 -static -I. tools/bench_tokenizer.cpp data/*.cpp -o bench_tokenizer \
//       -lpcre2-8 -licuuc -licudata -lpthread -ldl
//   ./bench_tokenizer assets/qwen3-tokenizer gsm8k_train.jsonl [key1,key2]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_tokenizer MODEL_DIR FILE.jsonl [key1,key2,...]\n");
    return 2;
  }
  std::vector<std::string> keys = {"question", "response"};
  if (argc > 3) {
    keys.clear();
    std::stringstream ss(argv[3]);
    for (std::string k; std::getline(ss, k, ',');) keys.push_back(k);
  }
  const auto tok = wm::Tokenizer::from_dir(argv[1]);
  std::ifstream in(argv[2]);
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    auto record = nlohmann::json::parse(line);
    for (const auto& k : keys) texts.push_back(record.at(k).get<std::string>());
  }
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  double best = 1e30;
  size_t tokens = 0;
  std::vector<int32_t> ids;
  for (int pass = 0; pass < 3; ++pass) {
    // A fresh tokenizer copy per pass would also clear the word cache; HF keeps its cache too.
    auto t0 = std::chrono::steady_clock::now();
    tokens = 0;
    for (const auto& t : texts) {
      tok.encode(t, ids, nullptr);
      tokens += ids.size();
    }
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("{\"texts\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"best_seconds_of_3\": %.4f, \"mb_per_s\": %.3f, \"tokens_per_s\": %.0f}\n",
              texts.size(), bytes, tokens, best, bytes / best / 1e6, tokens / best);
}
