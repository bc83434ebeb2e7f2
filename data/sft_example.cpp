#include "data/sft_example.h"

#include <stdexcept>

#include "data/nfc.h"

namespace wm {

LossMaskMode parse_loss_mask_mode(const std::string& s) {
  if (s == "assistant") return LossMaskMode::assistant;
  if (s == "last_turn") return LossMaskMode::last_turn;
  if (s == "completion_only") return LossMaskMode::completion_only;
  if (s == "all") return LossMaskMode::all;
  throw std::invalid_argument("unknown loss mask '" + s + "' (expected assistant, last_turn, completion_only or all)");
}

const char* loss_mask_mode_name(LossMaskMode m) {
  switch (m) {
    case LossMaskMode::assistant: return "assistant";
    case LossMaskMode::last_turn: return "last_turn";
    case LossMaskMode::completion_only: return "completion_only";
    case LossMaskMode::all: return "all";
  }
  return "?";
}

int64_t TokenizedExample::loss_tokens() const {
  int64_t n = 0;
  for (uint8_t m : loss_mask) n += m;
  return n;
}

TokenizedExample tokenize_chat(const Tokenizer& tok, std::span<const ChatMessage> messages, LossMaskMode mode,
                               bool enable_thinking) {
  std::vector<ChatMessage> normalized(messages.begin(), messages.end());
  bool any_assistant = false;
  for (size_t i = 0; i < normalized.size(); ++i) {
    ChatMessage& m = normalized[i];
    nfc_normalize(m.content, m.content);
    if (m.reasoning_content) nfc_normalize(*m.reasoning_content, *m.reasoning_content);
    if (m.role == "assistant") {
      any_assistant = true;
      bool has_reasoning = m.reasoning_content && !m.reasoning_content->empty();
      if (m.content.empty() && !has_reasoning)
        throw std::invalid_argument("message " + std::to_string(i) + " is an empty assistant turn");
    }
  }
  if (!any_assistant) throw std::invalid_argument("the conversation has no assistant turn");

  ChatRenderOptions render_options;
  render_options.enable_thinking = enable_thinking;
  RenderedChat chat = render_qwen3_chat(normalized, render_options);

  std::vector<ByteSpan> selected;
  const size_t last = chat.assistant_spans.size() - 1;
  switch (mode) {
    case LossMaskMode::assistant: selected = chat.assistant_spans; break;
    case LossMaskMode::last_turn: selected = {chat.assistant_spans[last]}; break;
    case LossMaskMode::completion_only: {
      ByteSpan s = chat.assistant_spans[last];
      s.begin += chat.empty_think_prefix[last];
      selected = {s};
      break;
    }
    case LossMaskMode::all: selected = {ByteSpan{0, chat.text.size()}}; break;
  }

  TokenizedExample ex;
  std::vector<size_t> starts;
  tok.encode(chat.text, ex.tokens, &starts);
  ex.loss_mask.assign(ex.tokens.size(), 0);
  size_t s = 0;  // spans and token starts are both increasing
  for (size_t i = 0; i < ex.tokens.size(); ++i) {
    while (s < selected.size() && starts[i] >= selected[s].end) ++s;
    if (s < selected.size() && starts[i] >= selected[s].begin) ex.loss_mask[i] = 1;
  }
  return ex;
}

TokenizedExample tokenize_text(const Tokenizer& tok, std::string_view text, int32_t eos_id) {
  TokenizedExample ex;
  ex.tokens = tok.encode(text);
  if (eos_id >= 0) ex.tokens.push_back(eos_id);
  ex.loss_mask.assign(ex.tokens.size(), 1);
  return ex;
}

}  // namespace wm
