// Turning one training record into tokens plus a per-token loss mask.
// loss_mask[i] == 1 means token i is a token the model is trained to predict (the loader turns this
// into targets: position i-1 gets target tokens[i]).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/chat_template.h"
#include "data/tokenizer.h"

namespace wm {

// Which tokens of a chat carry loss.
enum class LossMaskMode {
  assistant,        // every assistant turn: its content (think block included) and its <|im_end|>
  last_turn,        // only the last assistant turn, as above
  completion_only,  // the last assistant turn without the empty "<think>\n\n</think>\n\n" block the
                    // template inserts when the data has no reasoning (template text, not data)
  all,              // every token
};

LossMaskMode parse_loss_mask_mode(const std::string& s);  // throws listing the valid names
const char* loss_mask_mode_name(LossMaskMode m);

struct TokenizedExample {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> loss_mask;  // same length as tokens
  int64_t loss_tokens() const;
};

// Renders with the Qwen3 template (contents NFC-normalised first, as the tokenizer would) and
// tokenizes the whole text at once, so ids equal HF's apply_chat_template(tokenize=True). A token
// is in the loss when its first byte lies in a selected assistant span.
// Throws std::invalid_argument when there is no assistant turn or one is empty (nothing to learn).
TokenizedExample tokenize_chat(const Tokenizer& tok, std::span<const ChatMessage> messages, LossMaskMode mode,
                               bool enable_thinking);

// Continued pre-training text: every token in the loss; `eos_id` (>= 0) appended when given.
TokenizedExample tokenize_text(const Tokenizer& tok, std::string_view text, int32_t eos_id);

}  // namespace wm
