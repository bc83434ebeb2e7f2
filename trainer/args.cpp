#include "trainer/args.h"

#include <algorithm>
#include <stdexcept>

namespace wm {

Args::Args(std::span<const std::string> argv, std::vector<std::string> value_flags,
           std::vector<std::string> bool_flags) {
  auto contains = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
      inline_value = true;
    }
    if (key == "set" || contains(value_flags, key)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw std::invalid_argument("option --" + key + " needs a value");
        value = argv[++i];
      }
      if (key == "set") sets_.push_back(value);
      else values_[key] = value;
    } else if (contains(bool_flags, key)) {
      values_[key] = inline_value ? value : "true";
    } else {
      throw std::invalid_argument("unknown option --" + key);
    }
  }
}

bool Args::has(const std::string& key) const { return values_.count(key) > 0; }

std::optional<std::string> Args::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::require(const std::string& key) const {
  auto v = get(key);
  if (!v) throw std::invalid_argument("missing required option --" + key);
  return *v;
}

std::string Args::get_or(const std::string& key, const std::string& fallback) const {
  return get(key).value_or(fallback);
}

double Args::number(const std::string& key, double fallback) const {
  const auto v = get(key);
  if (!v) return fallback;
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size()) throw std::invalid_argument("--" + key + " expects a number, got '" + *v + "'");
  return x;
}

}  // namespace wm
