#include "trainer/sft/wemask_setup.h"

#include <spdlog/spdlog.h>

#include "model/analysis/me_probe.h"

namespace wm {

WeMaskSpec install_wemask(Qwen3Model& model, const WeMaskOptions& options,
                          const std::vector<std::vector<int32_t>>& calibration_docs) {
  WeMaskSpec spec;
  if (!options.enabled) return spec;
  const Qwen3Config& mc = model.config();
  int64_t me = 0;
  if (options.me_layer) {
    me = *options.me_layer;
  } else {
    spdlog::info("wemask: me_layer auto: probing {} training documents", calibration_docs.size());
    auto detection = analysis::detect_me_layer(model, calibration_docs);
    me = detection.me_layer;
    spdlog::info("wemask: detected ME layer {} ({})", me, detection.reason);
  }
  spec.enabled = true;
  for (auto l : options.resolve_layers(me, mc.num_hidden_layers)) spec.layers.push_back(static_cast<int>(l));
  spec.mask_rate = options.mask_rate;
  spec.gamma = options.gamma;
  spec.select = parse_wemask_select(options.select);
  spec.validate(static_cast<int>(mc.num_hidden_layers), mc.hidden_size);
  model.wemask() = WeMask(spec, static_cast<int>(mc.num_hidden_layers), mc.hidden_size, model.options().device);
  spdlog::info("wemask: ME layer {}, {} masked layer(s), {} dims, gamma {}", me, spec.layers.size(),
               spec.num_dims(mc.hidden_size), spec.gamma);
  return spec;
}

}  // namespace wm
