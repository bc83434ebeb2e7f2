// A typed configuration value, as the schema resolves it (null = "not set").
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace wm::config {

using ConfigValue = std::variant<std::monostate, bool, int64_t, double, std::string,
                                 std::vector<int64_t>, std::vector<double>>;

// Any problem with a configuration (unknown key, bad type, out of range, missing file ...).
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline bool is_null(const ConfigValue& v) { return std::holds_alternative<std::monostate>(v); }

// Human-readable form used in messages and in the resolved dump, e.g. "2e-05", "[1, 2]", "null".
std::string to_text(const ConfigValue& v);

}  // namespace wm::config
