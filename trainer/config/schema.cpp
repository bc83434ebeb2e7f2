#include "trainer/config/schema.h"

#include <fmt/format.h>

#include "trainer/config/edit_distance.h"

namespace wm::config {

const char* type_name(ValueType t) {
  switch (t) {
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "int";
    case ValueType::Float: return "float";
    case ValueType::String: return "string";
    case ValueType::Enum: return "enum";
    case ValueType::IntOrEnum: return "int|enum";
    case ValueType::IntListOrEnum: return "int-list|enum";
    case ValueType::FloatList: return "float-list";
  }
  return "?";
}

Schema::Schema(std::vector<KeySpec> keys) : keys_(std::move(keys)) {}

const KeySpec* Schema::find(const std::string& path) const {
  for (const auto& k : keys_)
    if (k.path == path) return &k;
  return nullptr;
}

std::vector<std::string> Schema::paths() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.path);
  return out;
}

bool Schema::is_section(const std::string& path) const {
  const std::string prefix = path + ".";
  for (const auto& k : keys_)
    if (k.path.rfind(prefix, 0) == 0) return true;
  return false;
}

const KeySpec& Schema::at(const std::string& path, const std::string& where) const {
  if (const KeySpec* k = find(path)) return *k;
  std::string msg = where.empty() ? "" : where + ": ";
  msg += fmt::format("unknown key '{}' (did you mean '{}'?)", path, nearest(path, paths()));
  throw ConfigError(msg);
}

std::string Schema::describe() const {
  std::string out;
  for (const auto& k : keys_) {
    std::string type = type_name(k.type);
    if (!k.choices.empty()) {
      type += " {";
      for (size_t i = 0; i < k.choices.size(); ++i) type += (i ? "," : "") + k.choices[i];
      type += "}";
    }
    std::string range;
    if (k.min || k.max)
      range = fmt::format(" [{}, {}]", k.min ? fmt::format("{}", *k.min) : "-inf",
                          k.max ? fmt::format("{}", *k.max) : "inf");
    out += fmt::format("  {:<34} {:<28} default {:<10} {}{}\n", k.path, type,
                       to_text(k.default_value), k.doc, range);
  }
  return out;
}

}  // namespace wm::config
