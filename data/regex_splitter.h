// The pre-tokenizer's Split step (behavior "Isolated"): a PCRE2 regex (UTF + Unicode properties,
// JIT-compiled) cuts text into pieces; both the matches and any text between them become pieces.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wm {

class RegexSplitter {
 public:
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends [begin, end) byte ranges of `text` (valid UTF-8), in order, covering all of it.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wm
