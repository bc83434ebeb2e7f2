#include "trainer/eval/benchmark.h"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/jsonl.h"

namespace wm::eval {

Benchmark read_benchmark(const std::string& path, const std::string& task, size_t limit) {
  if (task != "gsm8k" && task != "math500" && task != "auto")
    throw std::invalid_argument("unknown task '" + task + "' (expected gsm8k, math500 or auto)");
  Benchmark b;
  b.name = task;
  for_each_line(path, [&](int64_t line, const std::string& text) {
    if (is_blank(text) || (limit > 0 && b.examples.size() >= limit)) return;
    const std::string where = path + ":" + std::to_string(line) + ": ";
    const auto j = parse_jsonl_line(path, line, text);
    if (b.name == "auto") {
      if (j.contains("question")) b.name = "gsm8k";
      else if (j.contains("problem")) b.name = "math500";
      else throw std::runtime_error(where + "cannot tell the task: no \"question\" (GSM8K) or \"problem\" (MATH) field");
    }
    const char* qkey = b.name == "gsm8k" ? "question" : "problem";
    if (!j.contains(qkey) || !j[qkey].is_string())
      throw std::runtime_error(where + "missing string field \"" + qkey + "\"");
    if (!j.contains("answer") || !(j["answer"].is_string() || j["answer"].is_number()))
      throw std::runtime_error(where + "missing field \"answer\" (string or number)");
    b.examples.push_back({static_cast<size_t>(line), j[qkey].get<std::string>(),
                          j["answer"].is_string() ? j["answer"].get<std::string>() : j["answer"].dump()});
  });
  if (b.examples.empty()) throw std::runtime_error("no examples in " + path);
  b.style = b.name == "gsm8k" ? math::AnswerStyle::Gsm8k : math::AnswerStyle::Math;
  return b;
}

std::string default_instruction(const std::string& benchmark) {
  if (benchmark == "gsm8k") return "";
  return "Please reason step by step, and put your final answer within \\boxed{}.";
}

}  // namespace wm::eval
