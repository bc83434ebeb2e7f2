#include "rl/rewards.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

#include "data/math_answer.h"
#include "trainer/config/edit_distance.h"

namespace wm::rl {

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, RewardFn> fns;
  Registry() {
    fns["gsm8k"] = gsm8k_reward;
    fns["math"] = math_reward;
    fns["format"] = format_reward;
    fns["exact"] = exact_reward;
  }
};

// Built-ins are added on first use (no static-initialisation order or dropped-object issues).
Registry& registry() {
  static Registry r;
  return r;
}

// A final answer that math_answer can extract: "#### N" or \boxed{...}.
bool has_final_answer(std::string_view text) {
  return math::extract_after_hashes(text).has_value() || math::extract_last_boxed(text).has_value();
}

}  // namespace

std::string decode_response(const Tokenizer* tokenizer, std::span<const int32_t> ids,
                            std::span<const int32_t> stop_ids) {
  std::vector<int32_t> kept;
  for (int32_t t : ids) {
    if (std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end()) continue;
    if (tokenizer && (t < 0 || t >= tokenizer->vocab_size())) continue;
    kept.push_back(t);
  }
  if (tokenizer) return tokenizer->decode(kept, /*skip_special_tokens=*/true);
  std::string s;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(kept[i]);
  }
  return s;
}

double gsm8k_reward(const RewardInput& in) {
  return math::grade_completion(in.response, in.gold, math::AnswerStyle::Gsm8k).correct ? 1.0 : 0.0;
}

double math_reward(const RewardInput& in) {
  return math::grade_completion(in.response, in.gold, math::AnswerStyle::Math).correct ? 1.0 : 0.0;
}

double format_reward(const RewardInput& in) {
  const std::string_view text = trim(in.response);
  const std::string_view open = "<think>", close = "</think>";
  if (text.substr(0, open.size()) == open) {
    const size_t end = text.find(close);
    // exactly one think block, closed, then a final answer after it
    if (end != std::string_view::npos && text.find(open, open.size()) == std::string_view::npos &&
        text.find(close, end + close.size()) == std::string_view::npos)
      return has_final_answer(text.substr(end + close.size())) ? 1.0 : 0.0;
    return 0.0;
  }
  if (text.find(open) != std::string_view::npos || text.find(close) != std::string_view::npos) return 0.0;
  return has_final_answer(text) ? 0.5 : 0.0;
}

double exact_reward(const RewardInput& in) { return trim(in.response) == trim(in.gold) ? 1.0 : 0.0; }

void register_reward(const std::string& name, RewardFn fn) {
  if (name.empty()) throw std::invalid_argument("register_reward: empty reward name");
  if (!fn) throw std::invalid_argument("register_reward: reward '" + name + "' has no function");
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.fns[name] = std::move(fn);
}

bool has_reward(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.fns.count(name) > 0;
}

std::vector<std::string> reward_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, fn] : r.fns) names.push_back(name);
  return names;  // std::map: sorted
}

RewardFn find_reward(const std::string& name) {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.fns.find(name);
    if (it != r.fns.end()) return it->second;
  }
  const auto names = reward_names();
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown reward '" + name + "' (did you mean '" + config::nearest(name, names) +
                              "'? known: " + known + ")");
}

CombinedReward::CombinedReward(std::vector<RewardTerm> terms) : terms_(std::move(terms)) {
  if (terms_.empty()) throw std::invalid_argument("reward: at least one reward term is needed");
  for (const auto& t : terms_) fns_.push_back(find_reward(t.name));
}

CombinedReward::Value CombinedReward::operator()(const RewardInput& in) const {
  Value v;
  for (size_t i = 0; i < fns_.size(); ++i) {
    const double x = fns_[i](in);
    v.terms.push_back(x);
    v.total += terms_[i].weight * x;
  }
  v.correct = v.terms.front() >= 0.5;
  return v;
}

}  // namespace wm::rl
