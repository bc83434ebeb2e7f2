#include "trainer/eval/benchmark.h"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace wm::eval {

Benchmark read_benchmark(const std::string& path, const std::string& task, size_t limit) {
  if (task != "gsm8k" && task != "math500" && task != "auto")
    throw std::invalid_argument("unknown task '" + task + "' (expected gsm8k, math500 or auto)");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open benchmark file " + path);
  Benchmark b;
  b.name = task;
  std::string text;
  for (size_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(where + "not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw std::runtime_error(where + "expected a JSON object");
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
    b.examples.push_back({line, j[qkey].get<std::string>(),
                          j["answer"].is_string() ? j["answer"].get<std::string>() : j["answer"].dump()});
    if (limit > 0 && b.examples.size() >= limit) break;
  }
  if (b.examples.empty()) throw std::runtime_error("no examples in " + path);
  b.style = b.name == "gsm8k" ? math::AnswerStyle::Gsm8k : math::AnswerStyle::Math;
  return b;
}

std::string default_instruction(const std::string& benchmark) {
  if (benchmark == "gsm8k") return "";
  return "Please reason step by step, and put your final answer within \\boxed{}.";
}

}  // namespace wm::eval
