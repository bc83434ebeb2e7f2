#include "rl/rollout.h"

#include "model/generate.h"

namespace wm::rl {

std::vector<RolloutSample> sample_responses(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                            const RolloutOptions& options) {
  SamplingOptions o;
  o.max_new_tokens = options.max_new_tokens;
  o.temperature = options.temperature;
  o.top_p = options.top_p;
  o.top_k = options.top_k;
  o.seed = options.seed;
  o.stop_ids = options.stop_ids;
  std::vector<RolloutSample> out;
  // The sampler's log-probs are not used: GRPO recomputes old log-probs with forward passes.
  for (auto& g : generate(model, prompts, o)) out.push_back({std::move(g.tokens), g.stopped});
  return out;
}

const char* rollout_engine_name() { return "kv-cache (model/generate.h)"; }

}  // namespace wm::rl
