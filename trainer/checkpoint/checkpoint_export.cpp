#include "trainer/checkpoint/checkpoint_export.h"

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "trainer/checkpoint/checkpoint.h"

namespace wm {

NamedTensors master_views(const ParamStore& layout, const Tensor& master) {
  if (master.dtype != DType::F32 || master.numel() != layout.padded_numel())
    throw std::invalid_argument("master_views: master " + master.describe() + " does not match the layout (" +
                                std::to_string(layout.padded_numel()) + " floats)");
  NamedTensors out;
  auto* base = static_cast<float*>(master.data);
  for (size_t i = 0; i < layout.specs().size(); ++i)
    out.push_back({layout.specs()[i].name,
                   Tensor::from_shape(base + layout.offset(i), layout.specs()[i].shape, DType::F32, master.device)});
  return out;
}

void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                       const HfExportOptions& options) {
  LoadedCheckpoint ck(checkpoint_dir);
  const Qwen3Config cfg = Qwen3Config::from_json_string(ck.model_config_json(), checkpoint_dir + "/model_config.json");
  ParamStore layout(cfg, DType::F32, Device::CPU);
  ck.copy_master_to(layout.flat_params());
  spdlog::info("exporting checkpoint {} (step {}) to {}", checkpoint_dir, ck.state().step, out_dir);
  export_hf_folder(out_dir, cfg, layout.params(), options);
}

}  // namespace wm
