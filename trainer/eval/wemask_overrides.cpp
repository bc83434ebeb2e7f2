#include "trainer/eval/wemask_overrides.h"

#include "trainer/config/resolve.h"
#include "trainer/config/train_schema.h"

namespace wm::eval {

WeMaskOverrides parse_wemask_overrides(std::span<const std::string> sets) {
  WeMaskOverrides w;
  bool enabled_given = false;
  for (const auto& s : sets) {
    if (s.rfind("wemask.", 0) != 0)
      throw config::ConfigError("--set " + s + ": only wemask.* keys can be set here");
    w.any = true;
    if (s.rfind("wemask.enabled=", 0) == 0) enabled_given = true;
  }
  const config::ResolvedConfig r = config::resolve_text(config::sft_schema(), "{}", sets);
  auto& o = w.options;
  o.enabled = r.get_bool("wemask.enabled");
  if (r.get_choice("wemask.me_layer").empty()) o.me_layer = r.get_int("wemask.me_layer");
  o.layers_mode = r.get_choice("wemask.layers");
  if (o.layers_mode.empty()) o.layers = r.get_int_list("wemask.layers");
  o.mask_rate = r.get_float("wemask.mask_rate");
  o.gamma = r.get_float("wemask.gamma");
  o.select = r.get_string("wemask.select");
  o.tokens = r.get_string("wemask.tokens");
  w.enabled = enabled_given ? o.enabled : w.any;
  return w;
}

WeMaskSpec to_spec(const WeMaskOverrides& w, int me_layer, int num_layers) {
  WeMaskSpec spec;
  spec.enabled = w.enabled;
  if (!spec.enabled) return spec;
  for (int64_t l : w.options.resolve_layers(me_layer, num_layers)) spec.layers.push_back(static_cast<int>(l));
  spec.mask_rate = w.options.mask_rate;
  spec.gamma = w.options.gamma;
  spec.select = parse_wemask_select(w.options.select);
  return spec;
}

}  // namespace wm::eval
