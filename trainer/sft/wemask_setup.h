// The `wemask:` block of a training config applied to a model: me_layer auto runs the ME detector
// on calibration documents, then the masked layers are resolved and installed (shared by SFT and GRPO).
#pragma once
#include <cstdint>
#include <vector>

#include "model/qwen3.h"
#include "trainer/config/sft_config.h"

namespace wm {

// Installs the resolved WeMask on `model` and returns its spec (enabled = false, nothing installed,
// when options.enabled is false). Throws naming the key on an out-of-range layer, and with the
// detector's reason when me_layer is auto and no ME layer is found.
WeMaskSpec install_wemask(Qwen3Model& model, const WeMaskOptions& options,
                          const std::vector<std::vector<int32_t>>& calibration_docs);

}  // namespace wm
