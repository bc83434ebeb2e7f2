// `--set wemask.KEY=VALUE` for commands outside training (eval): the keys, types and ranges of the
// `wemask:` section of the train config (trainer/config/train_schema.cpp), nothing else.
#pragma once
#include <span>
#include <string>

#include "model/wemask.h"
#include "trainer/config/sft_config.h"

namespace wm::eval {

struct WeMaskOverrides {
  WeMaskOptions options;
  bool any = false;  // at least one wemask.* key was given
  // enabled: wemask.enabled when given, else true as soon as any wemask.* key is given
  bool enabled = false;
};

// Throws config::ConfigError naming the override for keys outside wemask.* and for bad values.
WeMaskOverrides parse_wemask_overrides(std::span<const std::string> sets);

// The model-level spec for a model with `num_layers` layers and the given ME layer.
WeMaskSpec to_spec(const WeMaskOverrides& w, int me_layer, int num_layers);

}  // namespace wm::eval
