#include "trainer/config/config_value.h"

#include <fmt/format.h>

namespace wm::config {

namespace {
template <class T>
std::string list_text(const std::vector<T>& xs) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + fmt::format("{}", xs[i]);
  return out + "]";
}
}  // namespace

std::string to_text(const ConfigValue& v) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<int64_t>& xs) const { return list_text(xs); }
    std::string operator()(const std::vector<double>& xs) const { return list_text(xs); }
  };
  return std::visit(Visitor{}, v);
}

}  // namespace wm::config
