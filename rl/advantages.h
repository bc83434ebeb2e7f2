// GRPO group advantages: each prompt has `group_size` sampled responses; a response's advantage
// is its reward minus the group mean, divided by the group standard deviation (+eps) unless
// scale_rewards is false (Dr. GRPO).
#pragma once
#include <span>
#include <vector>

namespace wm::rl {

struct AdvantageOptions {
  int group_size = 4;
  bool scale_rewards = true;
  float eps = 1e-6f;
};

// rewards: [num_prompts * group_size], grouped contiguously. Returns one advantage per response.
// The standard deviation is the unbiased one (n-1), as verl and TRL compute it.
std::vector<float> group_advantages(std::span<const float> rewards, const AdvantageOptions& opt);

}  // namespace wm::rl
