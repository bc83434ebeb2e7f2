// A Hugging Face folder from a training checkpoint's fp32 master weights.
#pragma once
#include <string>

#include "model/hf_checkpoint.h"
#include "model/param_store.h"

namespace wm {

// Views of a flat master buffer (ParamStore layout, F32, any device) under the HF names.
NamedTensors master_views(const ParamStore& layout, const Tensor& master);

// Reads the checkpoint folder (verified), writes the HF folder `out_dir`.
void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                       const HfExportOptions& options);

}  // namespace wm
