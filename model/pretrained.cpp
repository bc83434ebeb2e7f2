#include "model/pretrained.h"

#include <filesystem>
#include <stdexcept>

#include "model/hf_checkpoint.h"

namespace wm {

std::unique_ptr<Qwen3Model> load_pretrained(const std::string& dir, const ModelOptions& options) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  const Qwen3Config cfg = Qwen3Config::from_json_file(config_path);
  auto model = std::make_unique<Qwen3Model>(cfg, options);
  load_hf_weights(dir, cfg, model->params().params());
  return model;
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda" || name == "gpu") return Device::CUDA;
  throw std::invalid_argument("unknown device '" + name + "' (expected cpu or cuda)");
}

DType parse_compute_dtype(const std::string& name) {
  if (name == "f32" || name == "float32") return DType::F32;
  if (name == "f64" || name == "float64") return DType::F64;
  if (name == "bf16" || name == "bfloat16") return DType::BF16;
  throw std::invalid_argument("unknown dtype '" + name + "' (expected f32, f64 or bf16)");
}

}  // namespace wm
