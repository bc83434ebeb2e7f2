// A Qwen3Model from a Hugging Face folder (config.json + safetensors weights).
#pragma once
#include <memory>
#include <string>

#include "model/qwen3.h"

namespace wm {

// Reads dir/config.json, builds the model with `options` and loads its weights (converted to
// options.dtype on options.device). Throws naming the folder, file or tensor at fault.
std::unique_ptr<Qwen3Model> load_pretrained(const std::string& dir, const ModelOptions& options);

// "cpu" | "cuda"; "f32" | "f64" | "bf16". Throw std::invalid_argument naming the value.
Device parse_device(const std::string& name);
DType parse_compute_dtype(const std::string& name);

}  // namespace wm
