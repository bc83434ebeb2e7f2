#include "data/dataset.h"

#include <filesystem>
#include <functional>

#include <spdlog/spdlog.h>

#include "data/data_error.h"
#include "data/hash.h"
#include "data/jsonl.h"
#include "data/utf8.h"

namespace wm {

using json = nlohmann::json;

DatasetFormat parse_dataset_format(const std::string& s) {
  if (s == "chat") return DatasetFormat::chat;
  if (s == "prompt_response") return DatasetFormat::prompt_response;
  if (s == "text") return DatasetFormat::text;
  if (s == "tokens") return DatasetFormat::tokens;
  throw std::invalid_argument("unknown dataset format '" + s + "' (expected chat, prompt_response, text or tokens)");
}

const char* dataset_format_name(DatasetFormat f) {
  switch (f) {
    case DatasetFormat::chat: return "chat";
    case DatasetFormat::prompt_response: return "prompt_response";
    case DatasetFormat::text: return "text";
    case DatasetFormat::tokens: return "tokens";
  }
  return "?";
}

namespace {

constexpr uint64_t kCacheFormatVersion = 1;  // bump when tokenisation or masking logic changes

bool is_jsonl(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  return ext == ".jsonl" || ext == ".json";
}

std::vector<ChatMessage> parse_messages(const json& record, const std::string& key, const std::string& path, int64_t line) {
  auto it = record.find(key);
  if (it == record.end()) throw DataError(path, line, "missing key '" + key + "'");
  if (!it->is_array()) throw DataError(path, line, "key '" + key + "' is not an array of messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    if (!m.is_object()) throw DataError(path, line, key + "[" + std::to_string(i) + "] is not an object");
    ChatMessage msg;
    for (const char* field : {"role", "content"}) {
      auto f = m.find(field);
      if (f == m.end()) throw DataError(path, line, key + "[" + std::to_string(i) + "] is missing key '" + field + "'");
      if (!f->is_string()) throw DataError(path, line, key + "[" + std::to_string(i) + "]." + field + " is not a string");
    }
    msg.role = m["role"].get<std::string>();
    msg.content = m["content"].get<std::string>();
    if (m.contains("tool_calls") || record.contains("tools"))
      throw DataError(path, line, "tools / tool_calls are not supported by the chat template");
    if (auto r = m.find("reasoning_content"); r != m.end() && !r->is_null()) {
      if (!r->is_string()) throw DataError(path, line, key + "[" + std::to_string(i) + "].reasoning_content is not a string");
      msg.reasoning_content = r->get<std::string>();
    }
    out.push_back(std::move(msg));
  }
  return out;
}

TokenizedExample tokens_record(const json& record, const DatasetOptions& o, int32_t vocab, const std::string& path, int64_t line) {
  auto it = record.find(o.ids_key);
  if (it == record.end()) throw DataError(path, line, "missing key '" + o.ids_key + "'");
  if (!it->is_array()) throw DataError(path, line, "key '" + o.ids_key + "' is not an array of token ids");
  TokenizedExample ex;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer()) throw DataError(path, line, o.ids_key + "[" + std::to_string(i) + "] is not an integer");
    int64_t id = v.get<int64_t>();
    if (id < 0 || id >= vocab)
      throw DataError(path, line, "token id " + std::to_string(id) + " at " + o.ids_key + "[" + std::to_string(i) +
                                      "] is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    ex.tokens.push_back(static_cast<int32_t>(id));
  }
  if (o.mask_key.empty()) {
    ex.loss_mask.assign(ex.tokens.size(), 1);
  } else {
    auto m = record.find(o.mask_key);
    if (m == record.end()) throw DataError(path, line, "missing key '" + o.mask_key + "'");
    if (!m->is_array() || m->size() != ex.tokens.size())
      throw DataError(path, line, "key '" + o.mask_key + "' must be an array as long as '" + o.ids_key + "'");
    for (const json& v : *m) {
      if (!v.is_number_integer() || (v.get<int64_t>() != 0 && v.get<int64_t>() != 1))
        throw DataError(path, line, "key '" + o.mask_key + "' must hold only 0 and 1");
      ex.loss_mask.push_back(static_cast<uint8_t>(v.get<int64_t>()));
    }
  }
  return ex;
}

// Calls fn(line, example) for every record of the file; fn gets examples already checked.
class Reader {
 public:
  Reader(const Tokenizer& tok, const DatasetOptions& o) : tok_(tok), o_(o) {
    vocab_ = o.vocab_size > 0 ? o.vocab_size : tok.vocab_size();
    eos_ = o.append_eos ? tok.require_token_id(o.eos_token) : -1;
  }

  TokenizedDataset read() {
    TokenizedDataset d;
    d.source_path = o_.path;
    if (o_.format == DatasetFormat::text && !is_jsonl(o_.path)) {
      read_plain_text(d);
    } else {
      for_each_line(o_.path, [&](int64_t line, const std::string& text) {
        if (is_blank(text)) return;
        guarded(d, line, [&] { return example_from_jsonl(line, text); });
      });
    }
    return d;
  }

 private:
  void guarded(TokenizedDataset& d, int64_t line, const std::function<TokenizedExample()>& make) {
    d.stats.records += 1;
    try {
      TokenizedExample ex;
      try {
        ex = make();
      } catch (const DataError&) {
        throw;
      } catch (const std::exception& e) {  // e.g. an empty assistant turn from tokenize_chat
        throw DataError(o_.path, line, e.what());
      }
      if (ex.tokens.empty()) throw DataError(o_.path, line, "the example has no tokens");
      if (ex.loss_tokens() == 0) throw DataError(o_.path, line, "the example has no token in the loss");
      d.add(ex, line);
    } catch (const DataError& e) {
      if (!o_.skip_bad_examples) throw;
      d.stats.skipped += 1;
      spdlog::warn("skipping bad example: {}", e.what());
    }
  }

  TokenizedExample example_from_jsonl(int64_t line, const std::string& text) {
    const std::string& path = o_.path;
    json record = parse_jsonl_line(path, line, text);
    switch (o_.format) {
      case DatasetFormat::chat:
        return tokenize_chat(tok_, parse_messages(record, o_.messages_key, path, line), o_.loss_mask, o_.enable_thinking);
      case DatasetFormat::prompt_response: {
        std::vector<ChatMessage> msgs;
        if (!o_.system_prompt.empty()) msgs.push_back({"system", o_.system_prompt, std::nullopt});
        msgs.push_back({"user", require_string(record, o_.prompt_key, path, line), std::nullopt});
        std::string response = require_string(record, o_.response_key, path, line);
        if (response.empty()) throw DataError(path, line, "key '" + o_.response_key + "' is empty (an empty assistant turn)");
        msgs.push_back({"assistant", std::move(response), std::nullopt});
        return tokenize_chat(tok_, msgs, o_.loss_mask, o_.enable_thinking);
      }
      case DatasetFormat::text:
        return tokenize_text(tok_, require_string(record, o_.text_key, path, line), eos_);
      case DatasetFormat::tokens:
        return tokens_record(record, o_, vocab_, path, line);
    }
    throw std::logic_error("unhandled dataset format");
  }

  void read_plain_text(TokenizedDataset& d) {
    std::string doc;
    int64_t doc_line = 0;
    auto flush = [&] {
      if (doc.empty()) return;
      std::string text = std::move(doc);
      doc.clear();
      guarded(d, doc_line, [&] {
        if (!utf8::is_valid(text)) throw DataError(o_.path, doc_line, "the document is not valid UTF-8");
        return tokenize_text(tok_, text, eos_);
      });
    };
    for_each_line(o_.path, [&](int64_t line, const std::string& text) {
      if (is_blank(text)) {
        flush();
        return;
      }
      if (doc.empty()) doc_line = line;
      else doc += "\n";
      doc += text;
    });
    flush();
  }

  const Tokenizer& tok_;
  const DatasetOptions& o_;
  int32_t vocab_ = 0;
  int32_t eos_ = -1;
};

}  // namespace

uint64_t dataset_cache_key(const Tokenizer& tok, const DatasetOptions& o) {
  Fnv1a64 h;
  h.add_u64(kCacheFormatVersion).add_u64(hash_file(o.path)).add_u64(tok.fingerprint());
  for (const std::string* s : {&o.messages_key, &o.prompt_key, &o.response_key, &o.system_prompt, &o.text_key, &o.ids_key,
                               &o.mask_key, &o.eos_token})
    h.add(*s).add(std::string_view("\0", 1));
  h.add(dataset_format_name(o.format)).add(loss_mask_mode_name(o.loss_mask));
  h.add_u64(o.enable_thinking).add_u64(o.append_eos).add_u64(o.skip_bad_examples).add_u64(static_cast<uint64_t>(o.vocab_size));
  h.add(std::filesystem::path(o.path).extension().string());
  return h.value();
}

TokenizedDataset load_dataset(const Tokenizer& tok, const DatasetOptions& o) {
  if (!std::filesystem::exists(o.path)) throw std::runtime_error("data file not found: " + o.path);
  std::string cache_path;
  uint64_t key = 0;
  if (!o.cache_dir.empty()) {
    key = dataset_cache_key(tok, o);
    cache_path = (std::filesystem::path(o.cache_dir) / (std::filesystem::path(o.path).stem().string() + "-" + hex64(key) + ".wmtok")).string();
    if (auto cached = TokenizedDataset::load(cache_path, key)) {
      cached->source_path = o.path;
      spdlog::info("{}: {} examples, {} tokens from cache {}", o.path, cached->size(), cached->stats.tokens, cache_path);
      return std::move(*cached);
    }
  }
  TokenizedDataset d = Reader(tok, o).read();
  spdlog::info("{}: {} examples ({} records, {} skipped), {} tokens, {} in the loss", o.path, d.stats.examples,
               d.stats.records, d.stats.skipped, d.stats.tokens, d.stats.loss_tokens);
  if (!cache_path.empty()) d.save(cache_path, key);
  return d;
}

}  // namespace wm
