// `wemask export`: write a Hugging Face folder (config, generation config, safetensors weights,
// tokenizer files) that transformers loads with AutoModelForCausalLM.from_pretrained.
//   wemask export --model HF_DIR --output OUT_DIR [--dtype bf16|f32] [--max-shard-mb N]
//                 [--tokenizer DIR] [--overwrite]
// The weights come from --model; another source (e.g. a training checkpoint) only has to produce
// the config and the parameters as NamedTensors (any device, any float dtype) for export_hf_folder.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "kernels/buffer.h"
#include "model/config.h"
#include "model/hf_checkpoint.h"
#include "model/param_layout.h"
#include <yaml-cpp/yaml.h>

#include "trainer/args.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/checkpoint/checkpoint_export.h"
#include "trainer/commands.h"

namespace wm {
namespace {

constexpr const char* kUsage =
    "usage: wemask export (--model HF_DIR | --checkpoint CKPT_DIR) --output OUT_DIR [options]\n"
    "  --model DIR         Hugging Face folder to read (config.json + safetensors weights)\n"
    "  --checkpoint DIR    training checkpoint folder (its fp32 master weights)\n"
    "  --output DIR        folder to write (must not exist or be empty, unless --overwrite)\n"
    "  --dtype bf16|f32    dtype of the stored weights (default bf16)\n"
    "  --max-shard-mb N    split the weights into shards of at most N MiB (default 5120)\n"
    "  --tokenizer DIR     copy tokenizer files from DIR (default: the --model folder, or the\n"
    "                      checkpoint's data.tokenizer)\n"
    "  --overwrite         replace a non-empty output folder\n";

// Host F32 storage for every parameter of `cfg`, with the views under their HF names.
struct HostParameters {
  std::vector<OwnedTensor> storage;
  NamedTensors views;
};

HostParameters allocate_host_parameters(const Qwen3Config& cfg) {
  HostParameters p;
  for (const auto& spec : qwen3_param_specs(cfg)) {
    p.storage.emplace_back(std::span<const int64_t>(spec.shape), DType::F32, Device::CPU);
    p.views.push_back({spec.name, p.storage.back().t()});
  }
  return p;
}

DType parse_store_dtype(const std::string& s) {
  if (s == "bf16" || s == "bfloat16") return DType::BF16;
  if (s == "f32" || s == "float32") return DType::F32;
  throw std::invalid_argument("--dtype must be bf16 or f32, got '" + s + "'");
}

uint64_t parse_shard_mb(const std::string& s) {
  size_t used = 0;
  long long mb = -1;
  try {
    mb = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || mb <= 0) throw std::invalid_argument("--max-shard-mb must be a positive integer, got '" + s + "'");
  return static_cast<uint64_t>(mb) << 20;
}

// --checkpoint: the fp32 master weights of a training checkpoint (trainer/checkpoint/).
int export_from_checkpoint(const Args& args, const std::string& output) {
  const std::string dir = args.require("checkpoint");
  HfExportOptions options;
  options.store_dtype = parse_store_dtype(args.get_or("dtype", "bf16"));
  options.max_shard_bytes = parse_shard_mb(args.get_or("max-shard-mb", "5120"));
  options.overwrite = args.has("overwrite");
  if (auto tok = args.get("tokenizer")) {
    options.tokenizer_src_dir = *tok;
  } else {  // the tokenizer the run trained with, from the checkpoint's resolved config
    LoadedCheckpoint ck(dir);
    YAML::Node cfg = YAML::Load(ck.config_yaml());
    if (cfg["data"] && cfg["data"]["tokenizer"] && !cfg["data"]["tokenizer"].IsNull())
      options.tokenizer_src_dir = cfg["data"]["tokenizer"].as<std::string>();
    else if (cfg["model"] && cfg["model"]["path"] && !cfg["model"]["path"].IsNull())
      options.tokenizer_src_dir = cfg["model"]["path"].as<std::string>();
  }
  export_checkpoint(dir, output, options);
  return 0;
}

}  // namespace

int cmd_export(std::span<const std::string> argv) {
  Args args(argv, {"model", "checkpoint", "output", "dtype", "max-shard-mb", "tokenizer"}, {"help", "overwrite"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positional().empty())
    throw std::invalid_argument("unexpected argument '" + args.positional().front() + "'\n" + kUsage);
  if (args.has("model") == args.has("checkpoint"))
    throw std::invalid_argument(std::string("give exactly one of --model and --checkpoint\n") + kUsage);
  const std::string output = args.require("output");
  if (args.has("checkpoint")) return export_from_checkpoint(args, output);
  const std::string model_dir = args.require("model");

  HfExportOptions options;
  options.store_dtype = parse_store_dtype(args.get_or("dtype", "bf16"));
  options.max_shard_bytes = parse_shard_mb(args.get_or("max-shard-mb", "5120"));
  options.tokenizer_src_dir = args.get_or("tokenizer", model_dir);
  options.overwrite = args.has("overwrite");

  const Qwen3Config cfg = Qwen3Config::from_json_file(model_dir + "/config.json");
  HostParameters params = allocate_host_parameters(cfg);
  load_hf_weights(model_dir, cfg, params.views);
  spdlog::info("loaded {} parameters from {}", params.views.size(), model_dir);
  export_hf_folder(output, cfg, params.views, options);
  return 0;
}

}  // namespace wm
