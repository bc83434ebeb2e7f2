// `wemask score`: log-probabilities of token sequences under a model.
//   wemask score --model HF_DIR --input tokens.jsonl --output out.jsonl [--device cpu|cuda]
//                [--dtype f32|bf16|f64] [--max-tokens N]
// Each input line {"tokens": [ids...]} (at least 2 ids) gives one output line
// {"logprobs": [log p(tokens[i+1] | tokens[..i]) for i < n-1], "mean_loss": -mean(logprobs)}.
// Sequences are packed as separate documents into forward passes of at most --max-tokens tokens.
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "data/jsonl.h"
#include "model/batch.h"
#include "model/pretrained.h"
#include "trainer/args.h"
#include "trainer/commands.h"

namespace wm {
namespace {

constexpr const char* kUsage =
    "usage: wemask score --model HF_DIR --input tokens.jsonl --output out.jsonl [options]\n"
    "  --model DIR        Hugging Face folder (config.json + safetensors weights)\n"
    "  --input FILE       JSONL, one {\"tokens\": [ids...]} per line (blank lines skipped)\n"
    "  --output FILE      JSONL, one {\"logprobs\": [...], \"mean_loss\": x} per input line\n"
    "  --device cpu|cuda  (default cpu)\n"
    "  --dtype f32|bf16|f64  compute dtype (default f32 on cpu, bf16 on cuda)\n"
    "  --max-tokens N     tokens per forward pass (default 4096)\n";

struct Sequence {
  size_t line;  // 1-based line in the input file
  std::vector<int32_t> tokens;
};

std::vector<Sequence> read_sequences(const std::string& path, int64_t vocab) {
  std::vector<Sequence> out;
  for_each_line(path, [&](int64_t line, const std::string& text) {
    if (is_blank(text)) return;
    const std::string where = path + ":" + std::to_string(line) + ": ";
    const auto j = parse_jsonl_line(path, line, text);
    if (!j.contains("tokens") || !j["tokens"].is_array())
      throw std::runtime_error(where + "expected an object with a \"tokens\" array");
    Sequence s{static_cast<size_t>(line), {}};
    for (size_t i = 0; i < j["tokens"].size(); ++i) {
      const auto& v = j["tokens"][i];
      if (!v.is_number_integer())
        throw std::runtime_error(where + "tokens[" + std::to_string(i) + "] is not an integer: " + v.dump());
      const int64_t id = v.get<int64_t>();
      if (id < 0 || id >= vocab)
        throw std::runtime_error(where + "token id " + std::to_string(id) + " (tokens[" + std::to_string(i) +
                                 "]) is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      s.tokens.push_back(static_cast<int32_t>(id));
    }
    if (s.tokens.size() < 2) throw std::runtime_error(where + "needs at least 2 tokens to score");
    out.push_back(std::move(s));
  });
  return out;
}

// Consecutive sequences grouped so that each group has at most max_tokens tokens (a longer
// sequence gets a group of its own).
std::vector<std::pair<size_t, size_t>> group_sequences(const std::vector<Sequence>& seqs, int64_t max_tokens) {
  std::vector<std::pair<size_t, size_t>> groups;
  size_t begin = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto n = static_cast<int64_t>(seqs[i].tokens.size());
    if (i > begin && tokens + n > max_tokens) {
      groups.emplace_back(begin, i);
      begin = i;
      tokens = 0;
    }
    tokens += n;
  }
  if (begin < seqs.size()) groups.emplace_back(begin, seqs.size());
  return groups;
}

}  // namespace

int cmd_score(std::span<const std::string> argv) {
  const Args args(argv, {"model", "input", "output", "device", "dtype", "max-tokens"}, {"help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string model_dir = args.require("model"), input = args.require("input"),
                    output = args.require("output");
  ModelOptions opt;
  opt.device = parse_device(args.get_or("device", "cpu"));
  opt.dtype = parse_compute_dtype(args.get_or("dtype", opt.device == Device::CPU ? "f32" : "bf16"));
  const int64_t max_tokens = std::stoll(args.get_or("max-tokens", "4096"));
  if (max_tokens <= 0) throw std::invalid_argument("--max-tokens must be positive");

  const Qwen3Config cfg = Qwen3Config::from_json_file(model_dir + "/config.json");
  const std::vector<Sequence> seqs = read_sequences(input, cfg.vocab_size);
  const auto groups = group_sequences(seqs, max_tokens);
  int64_t longest = 1;
  for (const auto& [b, e] : groups) {
    int64_t n = 0;
    for (size_t i = b; i < e; ++i) n += static_cast<int64_t>(seqs[i].tokens.size());
    longest = std::max(longest, n);
  }
  opt.max_tokens = longest;
  opt.loss_chunk = std::min<int64_t>(longest, 1024);
  opt.inference_only = true;
  auto model = load_pretrained(model_dir, opt);

  std::ofstream out(output);
  if (!out) throw std::runtime_error("cannot open output file " + output);
  double total_loss = 0.0;
  int64_t total_tokens = 0;
  for (const auto& [begin, end] : groups) {
    std::vector<std::vector<int32_t>> docs;
    int64_t n = 0;
    for (size_t i = begin; i < end; ++i) {
      docs.push_back(seqs[i].tokens);
      n += static_cast<int64_t>(seqs[i].tokens.size());
    }
    const LossResult r = model->forward_loss(Batch(pack_documents({docs}, n), opt.device));
    int64_t offset = 0;
    for (const auto& doc : docs) {
      nlohmann::json line;
      std::vector<double> logprobs;
      double loss = 0.0;
      for (size_t i = 0; i + 1 < doc.size(); ++i) {
        logprobs.push_back(-r.token_loss[offset + i]);
        loss += r.token_loss[offset + i];
      }
      total_loss += loss;
      total_tokens += static_cast<int64_t>(logprobs.size());
      line["logprobs"] = logprobs;
      line["mean_loss"] = loss / static_cast<double>(logprobs.size());
      out << line.dump() << '\n';
      offset += static_cast<int64_t>(doc.size());
    }
  }
  out.close();
  if (!out) throw std::runtime_error("error writing output file " + output);
  spdlog::info("scored {} sequences ({} predicted tokens) from {}: mean loss {:.6f}", seqs.size(), total_tokens,
               input, total_tokens ? total_loss / static_cast<double>(total_tokens) : 0.0);
  return 0;
}

}  // namespace wm
