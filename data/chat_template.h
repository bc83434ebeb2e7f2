// Qwen3's chat template (tokenizer_config.json "chat_template"), rendered in C++ with the same
// text as HF apply_chat_template for conversations without tools:
//   <|im_start|>{role}\n{content}<|im_end|>\n  per turn (a leading system message first);
//   assistant turns after the last real user query get a <think>\n{reasoning}\n</think>\n\n block
//   when they are the last message or carry reasoning; earlier ones lose their reasoning;
//   reasoning comes from `reasoning_content` or from a "<think>…</think>" prefix of the content;
//   tool messages are wrapped in <tool_response> inside a user turn;
//   add_generation_prompt appends "<|im_start|>assistant\n", plus "<think>\n\n</think>\n\n" when
//   enable_thinking is false.
// `tools` and assistant `tool_calls` are not supported (a clear error, not a silent difference).
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool"
  std::string content;
  std::optional<std::string> reasoning_content;  // assistant only
};

struct ChatRenderOptions {
  bool add_generation_prompt = false;
  bool enable_thinking = true;
};

struct ByteSpan {
  size_t begin = 0, end = 0;  // [begin, end) in the rendered text
};

struct RenderedChat {
  std::string text;
  // One per assistant message, in order: what the model writes, i.e. from just after
  // "<|im_start|>assistant\n" through "<|im_end|>" (the newline after it is template).
  std::vector<ByteSpan> assistant_spans;
  // Per assistant span: length of an empty "<think>\n\n</think>\n\n" block the template put at its
  // start (0 when absent or when the block carries reasoning).
  std::vector<size_t> empty_think_prefix;
};

// Throws std::invalid_argument for an unknown role (naming the message index).
RenderedChat render_qwen3_chat(std::span<const ChatMessage> messages, const ChatRenderOptions& options);

}  // namespace wm
