// GRPO prompts: the prompt ids a rollout continues from and the reference answer, read from JSONL
// (chat: a text prompt through the chat template; tokens: ids given), plus the resumable order in
// which they are drawn (a seeded shuffle per epoch and a cursor).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"

namespace wm::rl {

struct GrpoPrompt {
  std::vector<int32_t> ids;
  std::string gold;
  int64_t line = 0;  // in the source file
};

struct PromptReadOptions {
  std::string path;
  std::string format = "chat";  // chat | tokens
  std::string prompt_key = "question", answer_key = "answer", ids_key = "prompt_ids";
  std::string system_prompt, instruction;
  bool enable_thinking = false;
  int64_t max_prompt_length = 512;  // longer prompts are dropped (and counted)
  int64_t max_examples = 0;         // 0: all
  int32_t vocab_size = 0;           // ids must be below it
};

// Throws DataError naming file:line for bad lines (missing key, bad id), std::runtime_error when
// nothing is left. `tokenizer` may be null for format tokens.
std::vector<GrpoPrompt> read_grpo_prompts(const PromptReadOptions& options, const Tokenizer* tokenizer,
                                          int64_t* dropped_too_long = nullptr);

// Draws prompt indices without replacement within an epoch; a new seeded permutation per epoch.
class PromptOrder {
 public:
  PromptOrder(int64_t size, uint64_t seed, bool shuffle);
  std::vector<int64_t> next(int64_t count);  // wraps into the next epoch when needed
  int64_t epoch() const { return epoch_; }

  nlohmann::json state() const;  // {"epoch", "cursor", "size", "seed"}
  void restore(const nlohmann::json& state);  // throws when size or seed differ

 private:
  void build_permutation();
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0, cursor_ = 0;
  std::vector<int64_t> perm_;
};

}  // namespace wm::rl
