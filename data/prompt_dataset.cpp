#include "data/prompt_dataset.h"

#include <spdlog/spdlog.h>

#include "data/chat_template.h"
#include "data/data_error.h"
#include "data/jsonl.h"

namespace wm {

std::vector<PromptRecord> read_prompts(const PromptDatasetOptions& o, int64_t* skipped) {
  std::vector<PromptRecord> out;
  int64_t bad = 0;
  for_each_line(o.path, [&](int64_t line, const std::string& text) {
    if (is_blank(text)) return;
    try {
      auto record = parse_jsonl_line(o.path, line, text);
      PromptRecord r;
      r.prompt = require_string(record, o.prompt_key, o.path, line);
      if (r.prompt.empty()) throw DataError(o.path, line, "key '" + o.prompt_key + "' is empty");
      auto a = record.find(o.answer_key);
      if (a == record.end()) throw DataError(o.path, line, "missing key '" + o.answer_key + "'");
      if (a->is_string()) r.answer = a->get<std::string>();
      else if (a->is_number()) r.answer = a->dump();
      else throw DataError(o.path, line, "key '" + o.answer_key + "' is neither a string nor a number");
      r.line = line;
      out.push_back(std::move(r));
    } catch (const DataError& e) {
      if (!o.skip_bad_examples) throw;
      ++bad;
      spdlog::warn("skipping bad prompt: {}", e.what());
    }
  });
  if (skipped) *skipped = bad;
  return out;
}

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const std::string& prompt, const std::string& system_prompt,
                                     bool enable_thinking) {
  std::vector<ChatMessage> msgs;
  if (!system_prompt.empty()) msgs.push_back({"system", system_prompt, std::nullopt});
  msgs.push_back({"user", prompt, std::nullopt});
  ChatRenderOptions opt;
  opt.add_generation_prompt = true;
  opt.enable_thinking = enable_thinking;
  return tok.encode(render_qwen3_chat(msgs, opt).text);
}

}  // namespace wm
