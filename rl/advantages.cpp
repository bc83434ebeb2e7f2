#include "rl/advantages.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace wm::rl {

std::vector<float> group_advantages(std::span<const float> rewards, const AdvantageOptions& opt) {
  const size_t n = static_cast<size_t>(opt.group_size);
  if (n == 0) throw std::invalid_argument("group_advantages: group_size must be positive");
  if (rewards.size() % n != 0)
    throw std::invalid_argument("group_advantages: " + std::to_string(rewards.size()) +
                                " rewards is not a multiple of group_size " + std::to_string(n));
  std::vector<float> adv(rewards.size());
  for (size_t g = 0; g < rewards.size(); g += n) {
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += rewards[g + i];
    mean /= static_cast<double>(n);
    double var = 0;
    for (size_t i = 0; i < n; ++i) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    double std = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
    for (size_t i = 0; i < n; ++i) {
      double a = rewards[g + i] - mean;
      // A group with identical rewards carries no signal: advantage 0, never 0/0.
      if (opt.scale_rewards) a = (std + opt.eps) > 0 ? a / (std + opt.eps) : 0.0;
      adv[g + i] = static_cast<float>(a);
    }
  }
  return adv;
}

}  // namespace wm::rl
