#include "data/jsonl.h"

#include <fstream>

#include "data/data_error.h"

namespace wm {

void for_each_line(const std::string& path, const std::function<void(int64_t, const std::string&)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open data file " + path);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    fn(number, line);
  }
}

nlohmann::json parse_jsonl_line(const std::string& path, int64_t line, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path, line, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw DataError(path, line, "a JSONL record must be an object, got " + std::string(j.type_name()));
  return j;
}

bool is_blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

std::string require_string(const nlohmann::json& record, const std::string& key, const std::string& path, int64_t line) {
  auto it = record.find(key);
  if (it == record.end()) throw DataError(path, line, "missing key '" + key + "'");
  if (!it->is_string()) throw DataError(path, line, "key '" + key + "' is not a string (it is " + it->type_name() + ")");
  return it->get<std::string>();
}

}  // namespace wm
