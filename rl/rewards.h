// Rule-based rewards for GRPO, by name. A reward sees one sampled response (its decoded text and
// its ids) and the prompt's reference answer, and returns a number (usually 0 or 1).
//
// Built in:
//   gsm8k   1 when the answer after the last "####" (else the "final answer is" phrase, else the
//           last \boxed{}) equals the gold answer after numeric normalisation (commas, $, units,
//           trailing ".0"); see data/math_answer.h
//   math    the same with the last \boxed{} and LaTeX normalisation (\frac/\dfrac, \left/\right,
//           spaces, ...), values compared numerically when both sides evaluate
//   format  1 when the response is "<think>...</think>" followed by an extractable final answer
//           ("#### N" or \boxed{...}); 0.5 when only the final answer is there; else 0
//   exact   1 when the response text, trimmed of whitespace, equals the gold text (toy tasks)
//
// Adding one in C++ takes one call, before the trainer is built:
//   wm::rl::register_reward("my_reward", [](const wm::rl::RewardInput& in) { return ...; });
// YAML then chooses a weighted sum: reward.terms: [{name: gsm8k, weight: 1.0}, {name: format, weight: 0.1}]
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace wm::rl {

// The text a reward sees: the response without its stop ids, decoded with special tokens removed.
// Ids the tokenizer does not know (the model's embedding table is padded past the tokenizer's
// vocabulary, e.g. 151936 vs 151669 for Qwen3, and a model can sample them) have no text and are
// dropped. Without a tokenizer (prompts given as ids), the ids are written as text: "3 14 7".
std::string decode_response(const Tokenizer* tokenizer, std::span<const int32_t> ids,
                            std::span<const int32_t> stop_ids);

struct RewardInput {
  std::string_view response;          // decoded response (special tokens removed)
  std::span<const int32_t> response_ids;
  std::string_view gold;              // the prompt's reference answer
};

using RewardFn = std::function<double(const RewardInput&)>;

// Adds (or replaces) a reward. Throws std::invalid_argument for an empty name or an empty fn.
void register_reward(const std::string& name, RewardFn fn);
bool has_reward(const std::string& name);
std::vector<std::string> reward_names();  // sorted
// Throws std::invalid_argument "unknown reward 'x' (did you mean 'y'? known: ...)".
RewardFn find_reward(const std::string& name);

struct RewardTerm {
  std::string name;
  double weight = 1.0;
};

// sum_i weight_i * reward_i(input). The first term is the "correctness" term: a response counts
// as correct (for the logged accuracy) when that term's value is >= 0.5.
class CombinedReward {
 public:
  explicit CombinedReward(std::vector<RewardTerm> terms);  // resolves names now (throws when unknown)
  struct Value {
    double total = 0;
    std::vector<double> terms;  // unweighted value of each term
    bool correct = false;       // first term >= 0.5
  };
  Value operator()(const RewardInput& in) const;
  const std::vector<RewardTerm>& terms() const { return terms_; }

 private:
  std::vector<RewardTerm> terms_;
  std::vector<RewardFn> fns_;
};

// The built-in rewards, callable directly (also registered under their names).
double gsm8k_reward(const RewardInput& in);
double math_reward(const RewardInput& in);
double format_reward(const RewardInput& in);
double exact_reward(const RewardInput& in);

}  // namespace wm::rl
