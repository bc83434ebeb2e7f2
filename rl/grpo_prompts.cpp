#include "rl/grpo_prompts.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "data/data_error.h"
#include "data/jsonl.h"
#include "data/prompt_dataset.h"

namespace wm::rl {

std::vector<GrpoPrompt> read_grpo_prompts(const PromptReadOptions& o, const Tokenizer* tokenizer,
                                          int64_t* dropped_too_long) {
  if (o.format != "chat" && o.format != "tokens")
    throw std::invalid_argument("prompt format must be chat or tokens, got '" + o.format + "'");
  if (o.format == "chat" && !tokenizer) throw std::invalid_argument("prompt format chat needs a tokenizer");
  std::vector<GrpoPrompt> out;
  int64_t dropped = 0;
  for_each_line(o.path, [&](int64_t line, const std::string& text) {
    if (is_blank(text) || (o.max_examples > 0 && static_cast<int64_t>(out.size()) >= o.max_examples)) return;
    const auto record = parse_jsonl_line(o.path, line, text);
    GrpoPrompt p;
    p.line = line;
    auto a = record.find(o.answer_key);
    if (a == record.end()) throw DataError(o.path, line, "missing key '" + o.answer_key + "'");
    if (a->is_string()) p.gold = a->get<std::string>();
    else if (a->is_number()) p.gold = a->dump();
    else throw DataError(o.path, line, "key '" + o.answer_key + "' is neither a string nor a number");
    if (o.format == "chat") {
      std::string prompt = require_string(record, o.prompt_key, o.path, line);
      if (prompt.empty()) throw DataError(o.path, line, "key '" + o.prompt_key + "' is empty");
      if (!o.instruction.empty()) prompt += "\n\n" + o.instruction;
      p.ids = tokenize_prompt(*tokenizer, prompt, o.system_prompt, o.enable_thinking);
    } else {
      auto ids = record.find(o.ids_key);
      if (ids == record.end() || !ids->is_array() || ids->empty())
        throw DataError(o.path, line, "key '" + o.ids_key + "' must be a non-empty list of token ids");
      for (const auto& v : *ids) {
        if (!v.is_number_integer()) throw DataError(o.path, line, "key '" + o.ids_key + "' holds a non-integer");
        p.ids.push_back(v.get<int32_t>());
      }
    }
    for (int32_t id : p.ids)
      if (id < 0 || (o.vocab_size > 0 && id >= o.vocab_size))
        throw DataError(o.path, line, "prompt token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                          std::to_string(o.vocab_size) + ")");
    if (static_cast<int64_t>(p.ids.size()) > o.max_prompt_length) {
      ++dropped;
      return;
    }
    out.push_back(std::move(p));
  });
  if (dropped_too_long) *dropped_too_long = dropped;
  if (out.empty())
    throw std::runtime_error("prompt file '" + o.path + "' holds no usable prompt (" + std::to_string(dropped) +
                             " longer than data.max_prompt_length " + std::to_string(o.max_prompt_length) + ")");
  return out;
}

PromptOrder::PromptOrder(int64_t size, uint64_t seed, bool shuffle) : size_(size), seed_(seed), shuffle_(shuffle) {
  if (size <= 0) throw std::invalid_argument("PromptOrder: no prompts");
  build_permutation();
}

void PromptOrder::build_permutation() {
  perm_.resize(static_cast<size_t>(size_));
  std::iota(perm_.begin(), perm_.end(), 0);
  if (shuffle_) {
    std::mt19937_64 rng(seed_ * 1000003ULL + static_cast<uint64_t>(epoch_));
    std::shuffle(perm_.begin(), perm_.end(), rng);
  }
}

std::vector<int64_t> PromptOrder::next(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  while (static_cast<int64_t>(out.size()) < count) {
    if (cursor_ == size_) {
      ++epoch_;
      cursor_ = 0;
      build_permutation();
    }
    out.push_back(perm_[static_cast<size_t>(cursor_++)]);
  }
  return out;
}

nlohmann::json PromptOrder::state() const {
  return {{"epoch", epoch_}, {"cursor", cursor_}, {"size", size_}, {"seed", seed_}, {"shuffle", shuffle_}};
}

void PromptOrder::restore(const nlohmann::json& s) {
  const int64_t size = s.at("size").get<int64_t>();
  const uint64_t seed = s.at("seed").get<uint64_t>();
  if (size != size_ || seed != seed_ || s.at("shuffle").get<bool>() != shuffle_)
    throw std::runtime_error("checkpoint prompt order was written for " + std::to_string(size) +
                             " prompts (seed " + std::to_string(seed) + "), this run has " + std::to_string(size_) +
                             " (seed " + std::to_string(seed_) + "): a different data file or seed");
  epoch_ = s.at("epoch").get<int64_t>();
  cursor_ = s.at("cursor").get<int64_t>();
  build_permutation();
}

}  // namespace wm::rl
