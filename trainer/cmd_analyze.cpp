// `wemask analyze`: massive-activation analysis of a model on calibration prompts; finds the
// Massive Emergence (ME) layer and the massive dims, writes report.json, tokens.jsonl and figures.
// The detection rule is documented in model/analysis/me_detector.h.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "data/chat_template.h"
#include "data/data_error.h"
#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "model/analysis/me_probe.h"
#include "model/pretrained.h"
#include "trainer/args.h"
#include "trainer/commands.h"
#include "trainer/report/analysis_report.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: wemask analyze --model HF_DIR --output DIR [options]\n"
    "  --model DIR           Hugging Face folder (config.json + safetensors)\n"
    "  --output DIR          where report.json, tokens.jsonl and the SVG figures go\n"
    "  --prompts FILE        JSONL, one {\"text\": ...} per line (default: configs/calibration_prompts.jsonl)\n"
    "  --tokens FILE         JSONL, one {\"tokens\": [ids...]} per line, instead of prompts\n"
    "  --tokenizer DIR       folder with tokenizer.json (default: the model folder)\n"
    "  --format chat|raw     prompts as a user turn of the chat template (default) or raw text\n"
    "  --max-prompts N       use only the first N prompts\n"
    "  --device cpu|cuda     (default cpu)   --dtype f32|bf16|f64 (default f32 on cpu, bf16 on cuda)\n"
    "  --max-tokens N        tokens per forward pass (default 2048)\n"
    "  --top-k K             dims kept per token (default 8)\n"
    "ME detector (see model/analysis/me_detector.h):\n"
    "  --min-ratio X         top dim >= X * layer median |h| (default 100)\n"
    "  --min-growth X        top dim >= X * its value at the layer input (default 10)\n"
    "  --min-ffn-share X     FFN output >= X * the value (default 0.5)\n"
    "  --min-doc-fraction X  share of prompts where it must happen (default 0.5)\n"
    "  --min-dim-support X   share of qualifying tokens a massive dim must appear in (default 0.5)\n"
    "  --max-dims N          most massive dims reported (default 8)\n"
    "  --first-token-only    only the first token of each prompt can qualify\n";

// The default calibration set ships in the repository's configs/ folder.
std::string default_prompts_path() {
  std::vector<fs::path> candidates;
  if (const char* home = std::getenv("WEMASK_HOME")) candidates.push_back(fs::path(home) / "configs");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const char* up : {"..", "../..", "../share/wemask"}) candidates.push_back(exe.parent_path() / up / "configs");
  candidates.push_back(fs::current_path() / "configs");
  for (const auto& dir : candidates) {
    const fs::path p = dir / "calibration_prompts.jsonl";
    if (fs::exists(p)) return fs::weakly_canonical(p).string();
  }
  throw std::runtime_error(
      "cannot find the default calibration prompts (configs/calibration_prompts.jsonl next to the binary, in "
      "$WEMASK_HOME/configs or ./configs); pass --prompts FILE");
}

std::vector<std::vector<int32_t>> read_token_file(const std::string& path) {
  std::vector<std::vector<int32_t>> docs;
  for_each_line(path, [&](int64_t line, const std::string& text) {
    if (is_blank(text)) return;
    const auto j = parse_jsonl_line(path, line, text);
    if (!j.contains("tokens") || !j["tokens"].is_array())
      throw DataError(path, line, "expected an object with a \"tokens\" array");
    std::vector<int32_t> doc;
    for (const auto& v : j["tokens"]) {
      if (!v.is_number_integer()) throw DataError(path, line, "token " + v.dump() + " is not an integer");
      doc.push_back(v.get<int32_t>());
    }
    docs.push_back(std::move(doc));
  });
  return docs;
}

std::vector<std::string> read_prompt_file(const std::string& path) {
  std::vector<std::string> prompts;
  for_each_line(path, [&](int64_t line, const std::string& text) {
    if (is_blank(text)) return;
    const auto j = parse_jsonl_line(path, line, text);
    if (!j.contains("text") || !j["text"].is_string() || j["text"].get<std::string>().empty())
      throw DataError(path, line, "expected an object with a non-empty \"text\" string");
    prompts.push_back(j["text"].get<std::string>());
  });
  return prompts;
}


}  // namespace

int cmd_analyze(std::span<const std::string> argv) {
  const Args args(argv,
                  {"model", "output", "prompts", "tokens", "tokenizer", "format", "max-prompts", "device", "dtype",
                   "max-tokens", "top-k", "min-ratio", "min-growth", "min-ffn-share", "min-doc-fraction",
                   "min-dim-support", "max-dims"},
                  {"help", "first-token-only"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string model_dir = args.require("model"), out_dir = args.require("output");
  if (args.has("prompts") && args.has("tokens")) throw std::invalid_argument("give --prompts or --tokens, not both");

  analysis::ProbeOptions probe;
  auto& det = probe.detector;
  det.min_ratio_to_median = args.number("min-ratio", det.min_ratio_to_median);
  det.min_growth_over_input = args.number("min-growth", det.min_growth_over_input);
  det.min_ffn_share = args.number("min-ffn-share", det.min_ffn_share);
  det.min_document_fraction = args.number("min-doc-fraction", det.min_document_fraction);
  det.min_dim_support = args.number("min-dim-support", det.min_dim_support);
  det.max_massive_dims = static_cast<int>(args.number("max-dims", det.max_massive_dims));
  det.first_token_only = args.has("first-token-only");
  analysis::validate(det);
  probe.stats.top_k = static_cast<int>(args.number("top-k", 8));
  if (probe.stats.top_k < det.max_massive_dims)
    throw std::invalid_argument("--top-k must be at least --max-dims (" + std::to_string(det.max_massive_dims) + ")");
  probe.max_tokens_per_forward = static_cast<int64_t>(args.number("max-tokens", 2048));
  if (probe.max_tokens_per_forward <= 0) throw std::invalid_argument("--max-tokens must be positive");

  report::AnalysisReportInfo info;
  info.model = model_dir;
  info.detector = det;
  std::vector<std::vector<int32_t>> docs;
  if (args.has("tokens")) {
    info.prompts = args.require("tokens");
    info.prompt_format = "tokens";
    docs = read_token_file(info.prompts);
  } else {
    info.prompts = args.has("prompts") ? args.require("prompts") : default_prompts_path();
    info.prompt_format = args.get_or("format", "chat");
    if (info.prompt_format != "chat" && info.prompt_format != "raw")
      throw std::invalid_argument("--format must be chat or raw, got '" + info.prompt_format + "'");
    const std::string tok_dir = args.get_or("tokenizer", model_dir);
    if (!fs::exists(fs::path(tok_dir) / "tokenizer.json"))
      throw std::runtime_error("no tokenizer.json in " + tok_dir +
                               ": pass --tokenizer DIR, or --tokens FILE with pre-tokenised prompts");
    const Tokenizer tok = Tokenizer::from_dir(tok_dir);
    for (const auto& text : read_prompt_file(info.prompts)) {
      if (info.prompt_format == "raw") {
        docs.push_back(tok.encode(text));
      } else {
        const ChatMessage msg{"user", text, std::nullopt};
        const auto chat = render_qwen3_chat(std::span<const ChatMessage>(&msg, 1), {true, false});
        docs.push_back(tok.encode(chat.text));
      }
    }
  }
  if (const auto n = args.get("max-prompts")) {
    const auto limit = static_cast<size_t>(args.number("max-prompts", 0));
    if (limit == 0) throw std::invalid_argument("--max-prompts must be positive, got " + *n);
    if (docs.size() > limit) docs.resize(limit);
  }
  if (docs.empty()) throw std::runtime_error("no calibration prompts in " + info.prompts);

  ModelOptions opt;
  opt.device = parse_device(args.get_or("device", "cpu"));
  opt.dtype = parse_compute_dtype(args.get_or("dtype", opt.device == Device::CPU ? "f32" : "bf16"));
  int64_t longest = 2, total = 0;
  for (const auto& d : docs) {
    longest = std::max<int64_t>(longest, static_cast<int64_t>(d.size()));
    total += static_cast<int64_t>(d.size());
  }
  opt.max_tokens = std::max(longest, std::min(total, probe.max_tokens_per_forward));
  opt.loss_chunk = std::min<int64_t>(opt.max_tokens, 512);
  probe.max_tokens_per_forward = opt.max_tokens;
  auto model = load_pretrained(model_dir, opt);

  spdlog::info("analyze: {} prompts ({}) on {} layers", docs.size(), info.prompts, model->config().num_hidden_layers);
  const auto result = analysis::analyze_activations(*model, docs, probe);
  const auto files = report::write_analysis_report(out_dir, model->config(), result, info);
  const auto& d = result.detection;
  if (d.found) {
    std::string dims;
    for (int64_t x : d.dims()) dims += (dims.empty() ? "" : ",") + std::to_string(x);
    std::printf("ME layer: %d\nmassive dims: %s\n", d.me_layer, dims.c_str());
  } else {
    std::printf("ME layer: not found\n");
  }
  std::printf("%s\nreport: %s\n", d.reason.c_str(), (fs::path(out_dir) / "report.json").string().c_str());
  return 0;
}

}  // namespace wm
