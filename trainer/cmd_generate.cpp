// `wemask generate`: text generation from a model folder with the KV-cache rollout engine
// (model/generate.h): one --prompt or a JSONL of prompts, optionally through the chat template,
// greedy or sampled, optionally with WeMask (--set wemask.*). Prints each completion.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "data/chat_template.h"
#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "model/generate.h"
#include "model/pretrained.h"
#include "trainer/args.h"
#include "trainer/commands.h"
#include "trainer/eval/wemask_overrides.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: wemask generate --model HF_DIR (--prompt TEXT | --prompts FILE.jsonl) [options]\n"
    "  --model DIR            Hugging Face folder (config.json + safetensors)\n"
    "  --prompt TEXT          one prompt\n"
    "  --prompts FILE         JSONL, one {\"prompt\": TEXT} per line (\"text\" or \"question\" also read)\n"
    "  --chat                 wrap each prompt as a user turn of the Qwen3 chat template\n"
    "  --thinking             with --chat: let the template open a thinking block (default: empty block)\n"
    "  --tokenizer DIR        folder with tokenizer.json (default: the model folder)\n"
    "  --max-new-tokens N     (default 256); generation also stops at <|im_end|> / <|endoftext|>\n"
    "  --temperature T        0 = greedy (default 1)   --top-p P (default 1)   --top-k K (default 0 = off)\n"
    "  --seed S               prompt i samples from its own stream seeded by (S, i) (default 0)\n"
    "  --device cpu|cuda      (default cpu)    --dtype f32|bf16|f64 (default f32 on cpu, bf16 on cuda)\n"
    "  --output FILE          also write one JSON line per prompt (completion, token ids, log-probs)\n"
    "  --set wemask.KEY=V     WeMask at inference, keys as in the train config; needs wemask.me_layer=N\n"
    "                         (or explicit wemask.layers) here: see `wemask analyze` for the ME layer\n";

std::vector<std::string> read_prompts(const std::string& path) {
  std::vector<std::string> prompts;
  for_each_line(path, [&](int64_t line, const std::string& text) {
    if (is_blank(text)) return;
    const auto j = parse_jsonl_line(path, line, text);
    for (const char* key : {"prompt", "text", "question"})
      if (j.contains(key)) {
        prompts.push_back(require_string(j, key, path, line));
        return;
      }
    throw std::runtime_error(path + ":" + std::to_string(line) + ": no \"prompt\" (or \"text\" / \"question\") field");
  });
  if (prompts.empty()) throw std::runtime_error(path + ": no prompts");
  return prompts;
}

}  // namespace

int cmd_generate(std::span<const std::string> argv) {
  const Args args(argv,
                  {"model", "prompt", "prompts", "tokenizer", "max-new-tokens", "temperature", "top-p", "top-k",
                   "seed", "device", "dtype", "output"},
                  {"help", "chat", "thinking"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string model_dir = args.require("model");
  if (args.has("prompt") == args.has("prompts"))
    throw std::invalid_argument("generate: give exactly one of --prompt TEXT and --prompts FILE.jsonl");
  const std::vector<std::string> texts =
      args.has("prompt") ? std::vector<std::string>{args.require("prompt")} : read_prompts(args.require("prompts"));
  const eval::WeMaskOverrides wemask = eval::parse_wemask_overrides(args.sets());

  SamplingOptions sampling;
  const double max_new = args.number("max-new-tokens", 256), top_k = args.number("top-k", 0);
  const double seed = args.number("seed", 0);
  if (max_new < 1 || max_new != static_cast<int64_t>(max_new))
    throw std::invalid_argument("--max-new-tokens must be a positive integer");
  if (top_k < 0 || top_k != static_cast<int64_t>(top_k)) throw std::invalid_argument("--top-k must be an integer >= 0");
  if (seed < 0) throw std::invalid_argument("--seed must be >= 0");
  sampling.max_new_tokens = static_cast<int64_t>(max_new);
  sampling.temperature = args.number("temperature", 1.0);
  sampling.top_p = args.number("top-p", 1.0);
  sampling.top_k = static_cast<int64_t>(top_k);
  sampling.seed = static_cast<uint64_t>(seed);

  const std::string tok_dir = args.get_or("tokenizer", model_dir);
  if (!fs::exists(fs::path(tok_dir) / "tokenizer.json"))
    throw std::runtime_error("no tokenizer.json in " + tok_dir + ": pass --tokenizer DIR");
  const Tokenizer tok = Tokenizer::from_dir(tok_dir);
  for (const char* stop : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tok.token_id(stop)) sampling.stop_ids.push_back(*id);
  std::vector<std::vector<int32_t>> prompts;
  int64_t total = 0, longest = 0;
  for (const auto& text : texts) {
    if (args.has("chat")) {
      const ChatMessage msg{"user", text, std::nullopt};
      prompts.push_back(tok.encode(render_qwen3_chat(std::span<const ChatMessage>(&msg, 1), {true, args.has("thinking")}).text));
    } else {
      prompts.push_back(tok.encode(text));
    }
    if (prompts.back().empty()) throw std::invalid_argument("generate: prompt " + std::to_string(prompts.size() - 1) + " is empty");
    total += static_cast<int64_t>(prompts.back().size());
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }

  ModelOptions opt;
  opt.device = parse_device(args.get_or("device", "cpu"));
  opt.dtype = parse_compute_dtype(args.get_or("dtype", opt.device == Device::CPU ? "f32" : "bf16"));
  opt.inference_only = true;
  opt.max_tokens = std::max<int64_t>(longest, std::min<int64_t>(total, 8192));  // prefill chunk
  opt.loss_chunk = std::min<int64_t>(opt.max_tokens, 256);
  auto model = load_pretrained(model_dir, opt);
  const int layers = static_cast<int>(model->config().num_hidden_layers);
  if (wemask.enabled) {
    int me = 0;
    if (!wemask.options.layers_mode.empty()) {
      if (!wemask.options.me_layer)
        throw std::invalid_argument("generate: wemask.me_layer auto is not supported here; pass --set wemask.me_layer=N "
                                    "(wemask analyze finds it)");
      me = static_cast<int>(*wemask.options.me_layer);
    }
    model->wemask() = WeMask(eval::to_spec(wemask, me, layers), layers, model->config().hidden_size, opt.device);
    spdlog::info("generate: WeMask on ({} layers, mask_rate {}, gamma {})", model->wemask().spec().layers.size(),
                 wemask.options.mask_rate, wemask.options.gamma);
  }

  const auto start = std::chrono::steady_clock::now();
  const std::vector<Generation> gens = generate(*model, prompts, sampling);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ofstream out;
  if (const auto path = args.get("output")) {
    out.open(*path);
    if (!out) throw std::runtime_error("cannot open output file " + *path);
  }
  int64_t generated = 0;
  for (size_t i = 0; i < gens.size(); ++i) {
    const std::string completion = tok.decode(gens[i].tokens, /*skip_special_tokens=*/true);
    generated += static_cast<int64_t>(gens[i].tokens.size());
    if (gens.size() > 1)
      std::printf("=== prompt %zu (%zu tokens, %s) ===\n", i, gens[i].tokens.size(), gens[i].stopped ? "stopped" : "max_new_tokens");
    std::printf("%s\n", completion.c_str());
    if (out.is_open()) {
      const nlohmann::json j = {{"index", i},           {"prompt", texts[i]},         {"completion", completion},
                                {"tokens", gens[i].tokens}, {"logprobs", gens[i].logprobs}, {"stopped", gens[i].stopped},
                                {"prompt_tokens", prompts[i].size()}};
      out << j.dump() << '\n';
    }
  }
  if (out.is_open()) {
    out.close();
    if (!out) throw std::runtime_error("error writing " + args.require("output"));
  }
  spdlog::info("generate: {} prompts, {} new tokens in {:.2f} s ({:.1f} tokens/s)", gens.size(), generated, secs,
               static_cast<double>(generated) / std::max(secs, 1e-9));
  return 0;
}

}  // namespace wm
