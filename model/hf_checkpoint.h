// Hugging Face model folders: loading weights into parameter views, and exporting a folder that
// `AutoModelForCausalLM.from_pretrained` loads (config.json, generation_config.json, safetensors
// weights, tokenizer files).
#pragma once
#include <cstdint>
#include <string>

#include "kernels/tensor.h"
#include "model/config.h"
#include "model/named_tensor.h"

namespace wm {

// Fills every destination (CPU or CUDA, any float dtype) from the safetensors weights in `dir`
// (single file or sharded). Throws naming the tensor and folder when a tensor is missing, and the
// tensor, file and both shapes when a file shape disagrees with the config. Tensors in the files
// that no destination asks for (e.g. lm_head.weight of a tied model) are ignored and listed at
// debug log level.
void load_hf_weights(const std::string& dir, const Qwen3Config& cfg, const NamedTensors& destinations);

struct HfExportOptions {
  DType store_dtype = DType::BF16;              // BF16 or F32 (F16 also works)
  std::string tokenizer_src_dir;                // copies tokenizer/generation files found there
  uint64_t max_shard_bytes = uint64_t(5) << 30;  // HF's default of 5 GB shards
  bool overwrite = false;                       // replace an existing non-empty out_dir
};

// Writes an HF folder to `out_dir`. Everything goes to a fresh `out_dir.tmp-XXXXXX` first, which
// is renamed into place only when complete, so a crash never leaves a folder that looks finished.
// `params` must hold exactly the parameters of qwen3_param_specs(cfg), with those shapes.
void export_hf_folder(const std::string& out_dir, const Qwen3Config& cfg, const NamedTensors& params,
                      const HfExportOptions& options = {});

// generation_config.json written when the tokenizer folder has none (Qwen3's sampling defaults).
std::string default_generation_config(const Qwen3Config& cfg);

}  // namespace wm
