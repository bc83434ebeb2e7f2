// Math benchmark files as in /work/shared/data: JSONL with GSM8K {"question", "answer"} or
// MATH-500 {"problem", "answer"} (extra fields ignored). The answer may be a bare answer or a
// GSM8K-style solution ending in "#### N".
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "data/math_answer.h"

namespace wm::eval {

struct BenchmarkExample {
  size_t line = 0;  // 1-based line in the file
  std::string question;
  std::string gold;
};

struct Benchmark {
  std::string name;  // "gsm8k" | "math500"
  math::AnswerStyle style = math::AnswerStyle::Gsm8k;
  std::vector<BenchmarkExample> examples;
};

// task: "gsm8k", "math500" or "auto" (from the first record's fields). limit 0 = all.
// Throws std::runtime_error naming file:line and the missing/bad field.
Benchmark read_benchmark(const std::string& path, const std::string& task, size_t limit = 0);

// Default instruction appended to each question (after a blank line); empty for GSM8K so that
// the prompt matches the GSM8K-CoT SFT data, the \boxed{} request for MATH.
std::string default_instruction(const std::string& benchmark);

}  // namespace wm::eval
