// wemask tokenize: text or JSONL in, token ids out (one line of space-separated ids per text).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "data/data_error.h"
#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "trainer/args.h"
#include "trainer/commands.h"

namespace wm {

namespace {

void tokenize_usage() {
  std::printf(
      "usage: wemask tokenize --model DIR [--input FILE] [--jsonl-key KEY[,KEY...]] [--whole] [--stats] [--quiet]\n"
      "  Encodes text with DIR/tokenizer.json and prints one line of space-separated ids per text.\n"
      "  --input FILE     read FILE instead of standard input\n"
      "  --jsonl-key KEYS input is JSONL: encode the string at each KEY of every line (in order)\n"
      "  --whole          plain text: encode the whole input as one text (default: each line)\n"
      "  --stats          print texts, bytes, tokens and encode speed (one thread) to stderr\n"
      "  --quiet          do not print ids (with --stats: a benchmark)\n");
}

std::vector<std::string> split_keys(const std::string& s) {
  std::vector<std::string> keys;
  std::stringstream ss(s);
  std::string k;
  while (std::getline(ss, k, ','))
    if (!k.empty()) keys.push_back(k);
  if (keys.empty()) throw std::invalid_argument("--jsonl-key needs at least one key");
  return keys;
}

}  // namespace

int cmd_tokenize(std::span<const std::string> argv) {
  Args args(argv, {"model", "input", "jsonl-key"}, {"whole", "stats", "quiet", "help"});
  if (args.has("help")) {
    tokenize_usage();
    return 0;
  }
  const Tokenizer tok = Tokenizer::from_dir(args.require("model"));
  const std::string input = args.get_or("input", "");
  const std::string source = input.empty() ? "<stdin>" : input;
  std::ifstream file;
  if (!input.empty()) {
    file.open(input, std::ios::binary);
    if (!file) throw std::runtime_error("cannot open " + input);
  }
  std::istream& in = input.empty() ? std::cin : file;

  // Gather the texts first so that --stats times encoding alone.
  std::vector<std::string> texts;
  if (auto keys = args.get("jsonl-key")) {
    const auto key_list = split_keys(*keys);
    std::string line;
    int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (is_blank(line)) continue;
      auto record = parse_jsonl_line(source, number, line);
      for (const auto& k : key_list) texts.push_back(require_string(record, k, source, number));
    }
  } else if (args.has("whole")) {
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
  } else {
    std::string line;
    while (std::getline(in, line)) texts.push_back(line);
  }

  const bool quiet = args.has("quiet");
  std::vector<int32_t> ids;
  std::string out;
  int64_t bytes = 0, tokens = 0;
  double seconds = 0;
  for (const auto& text : texts) {
    auto t0 = std::chrono::steady_clock::now();
    tok.encode(text, ids, nullptr);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bytes += static_cast<int64_t>(text.size());
    tokens += static_cast<int64_t>(ids.size());
    if (quiet) continue;
    out.clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (args.has("stats")) {
    std::fprintf(stderr, "texts %zu  bytes %lld  tokens %lld  encode %.3f s  %.2f MB/s  %.0f tokens/s (one thread)\n",
                 texts.size(), static_cast<long long>(bytes), static_cast<long long>(tokens), seconds,
                 seconds > 0 ? bytes / seconds / 1e6 : 0.0, seconds > 0 ? tokens / seconds : 0.0);
  }
  return 0;
}

}  // namespace wm
