// Prompts with reference answers (for RL rollouts and evaluation), e.g. GSM8K's question / answer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace wm {

struct PromptRecord {
  std::string prompt;
  std::string answer;
  int64_t line = 0;  // in the source file
};

struct PromptDatasetOptions {
  std::string path;
  std::string prompt_key = "question";
  std::string answer_key = "answer";
  bool skip_bad_examples = false;  // else a bad line throws DataError naming file and line
};

// Answers that are JSON numbers are turned into their text. Skipped lines are logged and counted.
std::vector<PromptRecord> read_prompts(const PromptDatasetOptions& options, int64_t* skipped = nullptr);

// The ids a model continues from: system prompt (if any) + user turn + "<|im_start|>assistant\n"
// (+ an empty think block when enable_thinking is false), as HF apply_chat_template with
// add_generation_prompt=True.
std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const std::string& prompt, const std::string& system_prompt,
                                     bool enable_thinking);

}  // namespace wm
