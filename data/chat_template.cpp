#include "data/chat_template.h"

#include <stdexcept>
#include <string_view>

namespace wm {

namespace {

constexpr std::string_view kEmptyThink = "<think>\n\n</think>\n\n";

std::string_view lstrip_newlines(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] == '\n') ++i;
  return s.substr(i);
}

std::string_view rstrip_newlines(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == '\n') --n;
  return s.substr(0, n);
}

std::string_view strip_newlines(std::string_view s) { return rstrip_newlines(lstrip_newlines(s)); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

// Python's s.split(sep)[-1] and s.split(sep)[0].
std::string_view after_last(std::string_view s, std::string_view sep) {
  size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}
std::string_view before_first(std::string_view s, std::string_view sep) {
  size_t p = s.find(sep);
  return p == std::string_view::npos ? s : s.substr(0, p);
}

bool is_tool_response(const std::string& content) {
  return starts_with(content, "<tool_response>") && ends_with(content, "</tool_response>");
}

}  // namespace

RenderedChat render_qwen3_chat(std::span<const ChatMessage> messages, const ChatRenderOptions& options) {
  const size_t n = messages.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      throw std::invalid_argument("message " + std::to_string(i) + " has unknown role '" + r + "'");
  }
  RenderedChat out;
  std::string& t = out.text;
  if (n > 0 && messages[0].role == "system") t += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";

  // The last user message that is a real query (not a wrapped tool response).
  size_t last_query = n == 0 ? 0 : n - 1;
  for (size_t k = n; k-- > 0;) {
    if (messages[k].role == "user" && !is_tool_response(messages[k].content)) {
      last_query = k;
      break;
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      t += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string_view content = m.content;
      std::string_view reasoning;
      if (m.reasoning_content) {
        reasoning = *m.reasoning_content;
      } else if (content.find("</think>") != std::string_view::npos) {
        reasoning = lstrip_newlines(after_last(rstrip_newlines(before_first(content, "</think>")), "<think>"));
        content = lstrip_newlines(after_last(content, "</think>"));
      }
      t += "<|im_start|>assistant\n";
      ByteSpan span{t.size(), 0};
      size_t empty_think = 0;
      if (i > last_query && (i + 1 == n || !reasoning.empty())) {
        t += "<think>\n";
        t += strip_newlines(reasoning);
        t += "\n</think>\n\n";
        t += lstrip_newlines(content);
        if (std::string_view(t).substr(span.begin, kEmptyThink.size()) == kEmptyThink) empty_think = kEmptyThink.size();
      } else {
        t += content;
      }
      t += "<|im_end|>";
      span.end = t.size();
      t += "\n";
      out.assistant_spans.push_back(span);
      out.empty_think_prefix.push_back(empty_think);
    } else if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool") t += "<|im_start|>user";
      t += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == n || messages[i + 1].role != "tool") t += "<|im_end|>\n";
    }
  }
  if (options.add_generation_prompt) {
    t += "<|im_start|>assistant\n";
    if (!options.enable_thinking) t += kEmptyThink;
  }
  return out;
}

}  // namespace wm
