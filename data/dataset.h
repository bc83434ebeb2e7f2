// Reading a training data file into a TokenizedDataset. Plain option structs: the trainer maps its
// YAML onto DatasetOptions (data/ knows nothing of YAML).
//
// Formats:
//   chat             JSONL, one conversation per line: {"messages": [{"role": ..., "content": ...,
//                    "reasoning_content"?: ...}, ...]} (OpenAI chat format), Qwen3 template.
//   prompt_response  JSONL with a prompt and a response key (GSM8K: question / response), rendered as
//                    a user turn (after an optional system prompt) and an assistant turn.
//   text             continued pre-training, every token in the loss, EOS appended per document:
//                    a .jsonl file takes `text_key` of each line; any other file is plain text whose
//                    documents are separated by blank lines.
//   tokens           JSONL with pre-tokenised ids (`ids_key`) and an optional 0/1 mask (`mask_key`).
//
// Bad input (malformed JSON, a missing key, an empty assistant turn, an id outside the vocabulary,
// an example with no loss token, invalid UTF-8 in a text file) raises DataError naming file and line;
// with skip_bad_examples the example is skipped, logged with file and line, and counted in
// stats.skipped. Blank lines hold no record and are passed over.
#pragma once
#include <cstdint>
#include <string>

#include "data/sft_example.h"
#include "data/tokenized_dataset.h"
#include "data/tokenizer.h"

namespace wm {

enum class DatasetFormat { chat, prompt_response, text, tokens };
DatasetFormat parse_dataset_format(const std::string& s);  // throws listing the valid names
const char* dataset_format_name(DatasetFormat f);

struct DatasetOptions {
  std::string path;
  DatasetFormat format = DatasetFormat::chat;
  std::string messages_key = "messages";
  std::string prompt_key = "prompt";
  std::string response_key = "response";
  std::string system_prompt;  // prompt_response: a system turn first when not empty
  std::string text_key = "text";
  std::string ids_key = "input_ids";
  std::string mask_key;  // tokens: optional per-token 0/1 loss mask; absent = every token
  LossMaskMode loss_mask = LossMaskMode::assistant;
  bool enable_thinking = true;
  bool append_eos = true;            // text: append <|endoftext|> to each document
  std::string eos_token = "<|endoftext|>";
  bool skip_bad_examples = false;
  int32_t vocab_size = 0;            // ids must be below this; 0 = the tokenizer's
  std::string cache_dir;             // empty = no cache
};

// Reads, tokenises and (when cache_dir is set) caches. The cache file is
// cache_dir/<file stem>-<key>.wmtok with key = hash(data file bytes, tokenizer.json bytes, every
// option that changes the result); a second call with the same inputs loads it instead of tokenising.
TokenizedDataset load_dataset(const Tokenizer& tok, const DatasetOptions& options);

// The cache key load_dataset uses (exposed for tests and logs).
uint64_t dataset_cache_key(const Tokenizer& tok, const DatasetOptions& options);

}  // namespace wm
