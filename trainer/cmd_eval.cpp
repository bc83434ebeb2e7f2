// `wemask eval`: training-free GSM8K / MATH-500 accuracy of a model folder, greedy or sampled,
// optionally with WeMask applied (--set wemask.mask_rate=... etc.).
// Decoding uses the slow no-KV-cache path (model/naive_generate.h): every token re-runs the forward.
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
#include "data/math_answer.h"
#include "data/tokenizer.h"
#include "model/analysis/me_probe.h"
#include "model/naive_generate.h"
#include "model/pretrained.h"
#include "trainer/args.h"
#include "trainer/commands.h"
#include "trainer/eval/benchmark.h"
#include "trainer/eval/wemask_overrides.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: wemask eval --model HF_DIR --data FILE.jsonl [options]\n"
    "  --model DIR            Hugging Face folder (config.json + safetensors)\n"
    "  --data FILE            GSM8K {question, answer} or MATH-500 {problem, answer} JSONL\n"
    "  --task gsm8k|math500|auto   (default auto: from the fields)\n"
    "  --limit N              first N examples (default all)\n"
    "  --output FILE          per-example JSONL (default: no file)\n"
    "  --tokenizer DIR        folder with tokenizer.json (default: the model folder)\n"
    "  --instruction TEXT     appended to each question (default: none for GSM8K, \\boxed{} request for MATH)\n"
    "  --thinking             let the chat template open a thinking block (default: empty think block)\n"
    "  --max-new-tokens N     (default 512)\n"
    "  --temperature T        0 = greedy (default 0)    --top-p P (default 1)    --seed S (default 0)\n"
    "  --batch N              sequences decoded together (default 8)\n"
    "  --device cpu|cuda      (default cpu)    --dtype f32|bf16|f64 (default f32 on cpu, bf16 on cuda)\n"
    "  --set wemask.KEY=V     WeMask at inference, keys as in the train config (mask_rate, gamma, layers,\n"
    "                         me_layer, select, enabled); any wemask.* key enables it unless\n"
    "                         wemask.enabled=false; me_layer auto runs the ME detector on\n"
    "                         configs/calibration_prompts.jsonl\n";


std::vector<int32_t> chat_prompt(const Tokenizer& tok, const std::string& user, bool thinking) {
  const ChatMessage msg{"user", user, std::nullopt};
  const auto chat = render_qwen3_chat(std::span<const ChatMessage>(&msg, 1), {true, thinking});
  return tok.encode(chat.text);
}

// ME layer for `wemask.me_layer: auto`, detected on the default calibration prompts.
int auto_me_layer(Qwen3Model& model, const Tokenizer& tok, const std::string& model_dir) {
  std::vector<fs::path> candidates = {fs::current_path() / "configs" / "calibration_prompts.jsonl"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const char* up : {"..", "../.."}) candidates.push_back(exe.parent_path() / up / "configs" / "calibration_prompts.jsonl");
  for (const auto& p : candidates) {
    if (!fs::exists(p)) continue;
    std::ifstream in(p);
    std::vector<std::vector<int32_t>> docs;
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) docs.push_back(chat_prompt(tok, nlohmann::json::parse(line).at("text").get<std::string>(), false));
    const auto det = analysis::detect_me_layer(model, docs);
    spdlog::info("eval: wemask.me_layer auto -> {} ({})", det.me_layer, det.reason);
    return det.me_layer;
  }
  throw std::runtime_error("wemask.me_layer auto needs configs/calibration_prompts.jsonl; set wemask.me_layer=N for " +
                           model_dir);
}

}  // namespace

int cmd_eval(std::span<const std::string> argv) {
  const Args args(argv,
                  {"model", "data", "task", "limit", "output", "tokenizer", "instruction", "max-new-tokens",
                   "temperature", "top-p", "seed", "batch", "device", "dtype"},
                  {"help", "thinking"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string model_dir = args.require("model"), data = args.require("data");
  const double limit = args.number("limit", 0);
  if (limit < 0) throw std::invalid_argument("--limit must be >= 0");
  const eval::Benchmark bench = eval::read_benchmark(data, args.get_or("task", "auto"), static_cast<size_t>(limit));
  const eval::WeMaskOverrides wemask = eval::parse_wemask_overrides(args.sets());

  NaiveSamplingOptions sampling;
  sampling.max_new_tokens = static_cast<int64_t>(args.number("max-new-tokens", 512));
  sampling.temperature = args.number("temperature", 0.0);
  sampling.top_p = args.number("top-p", 1.0);
  sampling.seed = static_cast<uint64_t>(args.number("seed", 0));
  const auto batch = static_cast<size_t>(args.number("batch", 8));
  if (sampling.max_new_tokens <= 0 || batch == 0 || sampling.temperature < 0)
    throw std::invalid_argument("--max-new-tokens and --batch must be positive, --temperature >= 0");

  const std::string tok_dir = args.get_or("tokenizer", model_dir);
  if (!fs::exists(fs::path(tok_dir) / "tokenizer.json"))
    throw std::runtime_error("no tokenizer.json in " + tok_dir + ": pass --tokenizer DIR");
  const Tokenizer tok = Tokenizer::from_dir(tok_dir);
  for (const char* stop : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tok.token_id(stop)) sampling.stop_ids.push_back(*id);
  const std::string instruction = args.get_or("instruction", eval::default_instruction(bench.name));
  std::vector<std::vector<int32_t>> prompts;
  int64_t longest = 0;
  for (const auto& ex : bench.examples) {
    prompts.push_back(chat_prompt(tok, instruction.empty() ? ex.question : ex.question + "\n\n" + instruction,
                                  args.has("thinking")));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
  }

  ModelOptions opt;
  opt.device = parse_device(args.get_or("device", "cpu"));
  opt.dtype = parse_compute_dtype(args.get_or("dtype", opt.device == Device::CPU ? "f32" : "bf16"));
  opt.max_tokens = (longest + sampling.max_new_tokens) * static_cast<int64_t>(std::min(batch, prompts.size()));
  opt.loss_chunk = std::min<int64_t>(opt.max_tokens, 1024);
  auto model = load_pretrained(model_dir, opt);
  const int layers = static_cast<int>(model->config().num_hidden_layers);
  if (wemask.enabled) {
    int me = 0;
    if (!wemask.options.layers_mode.empty())
      me = wemask.options.me_layer ? static_cast<int>(*wemask.options.me_layer) : auto_me_layer(*model, tok, model_dir);
    model->wemask() = WeMask(eval::to_spec(wemask, me, layers), layers, model->config().hidden_size, opt.device);
    spdlog::info("eval: WeMask on ({} layers, mask_rate {}, gamma {})", model->wemask().spec().layers.size(),
                 wemask.options.mask_rate, wemask.options.gamma);
  }

  std::ofstream out;
  if (const auto path = args.get("output")) {
    out.open(*path);
    if (!out) throw std::runtime_error("cannot open output file " + *path);
  }
  size_t correct = 0, extracted = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < prompts.size(); begin += batch) {
    const size_t end = std::min(prompts.size(), begin + batch);
    const std::vector<std::vector<int32_t>> chunk(prompts.begin() + begin, prompts.begin() + end);
    NaiveSamplingOptions s = sampling;
    s.seed = sampling.seed + begin;
    const auto gens = generate_without_cache(*model, chunk, s);
    for (size_t k = 0; k < gens.size(); ++k) {
      const auto& ex = bench.examples[begin + k];
      const std::string completion = tok.decode(gens[k].tokens, /*skip_special_tokens=*/true);
      const auto g = math::grade_completion(completion, ex.gold, bench.style);
      correct += g.correct;
      extracted += g.extracted.has_value();
      if (out.is_open()) {
        nlohmann::json j = {{"index", begin + k},
                            {"line", ex.line},
                            {"question", ex.question},
                            {"gold", ex.gold},
                            {"gold_normalized", g.gold_normalized},
                            {"completion", completion},
                            {"extracted", g.extracted ? nlohmann::json(*g.extracted) : nlohmann::json(nullptr)},
                            {"normalized", g.normalized},
                            {"correct", g.correct},
                            {"prompt_tokens", chunk[k].size()},
                            {"completion_tokens", gens[k].tokens.size()},
                            {"stopped", gens[k].stopped}};
        out << j.dump() << '\n';
      }
    }
    spdlog::info("eval: {}/{} done, {} correct", end, prompts.size(), correct);
  }
  if (out.is_open()) {
    out.close();
    if (!out) throw std::runtime_error("error writing " + args.require("output"));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const size_t n = bench.examples.size();
  std::printf("%s accuracy: %zu/%zu = %.2f%% (answers extracted: %zu; %.1f s)\n", bench.name.c_str(), correct, n,
              100.0 * static_cast<double>(correct) / static_cast<double>(n), extracted, secs);
  return 0;
}

}  // namespace wm
