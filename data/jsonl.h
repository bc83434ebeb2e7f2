// Reading JSONL files line by line, with errors that name file and line.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace wm {

// Calls fn(line_number, text) for every line (1-based), '\r' of CRLF endings removed.
// Throws std::runtime_error naming the path when the file cannot be opened.
void for_each_line(const std::string& path, const std::function<void(int64_t, const std::string&)>& fn);

// Parses one JSONL line as an object; throws DataError(path, line) when it is not valid JSON
// (or not valid UTF-8) or not an object.
nlohmann::json parse_jsonl_line(const std::string& path, int64_t line, const std::string& text);

bool is_blank(const std::string& s);

// The string at `key`; throws DataError naming the key when missing or not a string.
std::string require_string(const nlohmann::json& record, const std::string& key, const std::string& path, int64_t line);

}  // namespace wm
