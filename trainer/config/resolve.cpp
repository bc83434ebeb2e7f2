#include "trainer/config/resolve.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace wm::config {

namespace {

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "null";
}

std::string located(const std::string& origin, const YAML::Node& n) {
  if (n.Mark().is_null()) return origin;
  return fmt::format("{}:{}", origin, n.Mark().line + 1);
}

[[noreturn]] void fail(const std::string& where, const KeySpec& spec, const std::string& what) {
  throw ConfigError(fmt::format("{}: key '{}': {}", where, spec.path, what));
}

void check_range(const KeySpec& spec, double x, const std::string& shown, const std::string& where) {
  if (!std::isfinite(x)) fail(where, spec, fmt::format("value {} is not finite", shown));
  if ((spec.min && x < *spec.min) || (spec.max && x > *spec.max))
    fail(where, spec, fmt::format("value {} is out of range [{}, {}]", shown,
                                  spec.min ? fmt::format("{}", *spec.min) : "-inf",
                                  spec.max ? fmt::format("{}", *spec.max) : "inf"));
}

bool is_choice(const KeySpec& spec, const std::string& s) {
  return std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end();
}

std::string choices_text(const KeySpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.choices.size(); ++i) out += (i ? "|" : "") + spec.choices[i];
  return out;
}

int64_t parse_int(const KeySpec& spec, const YAML::Node& n, const std::string& where) {
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v))
    fail(where, spec, fmt::format("expected an integer, got {}", node_text(n)));
  check_range(spec, static_cast<double>(v), n.Scalar(), where);
  return v;
}

double parse_float(const KeySpec& spec, const YAML::Node& n, const std::string& where) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v))
    fail(where, spec, fmt::format("expected a number, got {}", node_text(n)));
  check_range(spec, v, n.Scalar(), where);
  return v;
}

}  // namespace

ConfigValue parse_value(const KeySpec& spec, const YAML::Node& n, const std::string& where) {
  if (!n || n.IsNull()) {
    if (is_null(spec.default_value)) return std::monostate{};
    fail(where, spec, "may not be null");
  }
  switch (spec.type) {
    case ValueType::Bool: {
      bool b = false;
      if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b))
        fail(where, spec, fmt::format("expected true or false, got {}", node_text(n)));
      return b;
    }
    case ValueType::Int: return parse_int(spec, n, where);
    case ValueType::Float: return parse_float(spec, n, where);
    case ValueType::String:
      if (!n.IsScalar()) fail(where, spec, fmt::format("expected a string, got {}", node_text(n)));
      return n.Scalar();
    case ValueType::Enum:
      if (!n.IsScalar() || !is_choice(spec, n.Scalar()))
        fail(where, spec, fmt::format("expected one of {}, got {}", choices_text(spec), node_text(n)));
      return n.Scalar();
    case ValueType::IntOrEnum:
      if (n.IsScalar() && is_choice(spec, n.Scalar())) return n.Scalar();
      if (int64_t v = 0; n.IsScalar() && YAML::convert<int64_t>::decode(n, v)) {
        check_range(spec, static_cast<double>(v), n.Scalar(), where);
        return v;
      }
      fail(where, spec, fmt::format("expected an integer or one of {}, got {}", choices_text(spec),
                                    node_text(n)));
    case ValueType::IntListOrEnum: {
      if (n.IsScalar() && is_choice(spec, n.Scalar())) return n.Scalar();
      if (!n.IsSequence())
        fail(where, spec, fmt::format("expected a list of integers or one of {}, got {}",
                                      choices_text(spec), node_text(n)));
      std::vector<int64_t> out;
      for (const auto& e : n) out.push_back(parse_int(spec, e, where));
      if (out.empty()) fail(where, spec, "the list is empty");
      return out;
    }
    case ValueType::FloatList: {
      if (!n.IsSequence()) fail(where, spec, fmt::format("expected a list of numbers, got {}", node_text(n)));
      std::vector<double> out;
      for (const auto& e : n) out.push_back(parse_float(spec, e, where));
      if (spec.list_size && out.size() != spec.list_size)
        fail(where, spec, fmt::format("expected {} numbers, got {}", spec.list_size, out.size()));
      return out;
    }
  }
  fail(where, spec, "unsupported type");
}

// ---- ResolvedConfig

ResolvedConfig::ResolvedConfig(const Schema* schema) : schema_(schema) {
  for (const auto& k : schema->keys()) values_[k.path] = k.default_value;
}

const ConfigValue& ResolvedConfig::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) schema_->at(key);  // throws with a suggestion
  if (it == values_.end()) throw ConfigError("unknown key '" + key + "'");
  return it->second;
}

bool ResolvedConfig::is_set(const std::string& key) const { return !is_null(get(key)); }

void ResolvedConfig::set(const std::string& key, ConfigValue v) {
  schema_->at(key);
  values_[key] = std::move(v);
}

namespace {
template <class T>
const T& typed(const ResolvedConfig& c, const std::string& key, const char* want) {
  const ConfigValue& v = c.get(key);
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw ConfigError(fmt::format("key '{}' holds {}, not {}", key, to_text(v), want));
}
}  // namespace

bool ResolvedConfig::get_bool(const std::string& k) const { return typed<bool>(*this, k, "a bool"); }
int64_t ResolvedConfig::get_int(const std::string& k) const { return typed<int64_t>(*this, k, "an integer"); }
double ResolvedConfig::get_float(const std::string& k) const { return typed<double>(*this, k, "a number"); }
std::string ResolvedConfig::get_string(const std::string& k) const {
  return typed<std::string>(*this, k, "a string");
}
std::vector<int64_t> ResolvedConfig::get_int_list(const std::string& k) const {
  return typed<std::vector<int64_t>>(*this, k, "a list of integers");
}
std::vector<double> ResolvedConfig::get_float_list(const std::string& k) const {
  return typed<std::vector<double>>(*this, k, "a list of numbers");
}
std::string ResolvedConfig::get_choice(const std::string& k) const {
  const ConfigValue& v = get(k);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return "";
}

std::string ResolvedConfig::to_yaml() const {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& spec : schema_->keys()) {
    YAML::Node node = root;
    std::string rest = spec.path;
    for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
      std::string part = rest.substr(0, dot);
      if (!node[part]) node[part] = YAML::Node(YAML::NodeType::Map);
      node.reset(node[part]);
    }
    const ConfigValue& v = values_.at(spec.path);
    std::visit([&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, std::monostate>) node[rest] = YAML::Node(YAML::NodeType::Null);
      else if constexpr (std::is_same_v<T, double>) node[rest] = fmt::format("{}", x);
      else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>) {
        YAML::Node seq(YAML::NodeType::Sequence);
        seq.SetStyle(YAML::EmitterStyle::Flow);
        for (auto e : x) seq.push_back(e);
        node[rest] = seq;
      } else node[rest] = x;
    }, v);
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

// ---- resolution

namespace {

void apply_tree(const Schema& schema, ResolvedConfig& cfg, const YAML::Node& map,
                const std::string& prefix, const std::string& origin) {
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const std::string where = located(origin, kv.first);
    const YAML::Node& value = kv.second;
    if (schema.find(path)) {
      cfg.set(path, parse_value(*schema.find(path), value, where));
    } else if (schema.is_section(path)) {
      if (value.IsNull()) continue;  // "section:" with nothing under it
      if (!value.IsMap())
        throw ConfigError(fmt::format("{}: key '{}' is a section; expected a map, got {}", where,
                                      path, node_text(value)));
      apply_tree(schema, cfg, value, path, origin);
    } else {
      schema.at(path, where);  // throws "unknown key ... did you mean"
    }
  }
}

}  // namespace

ResolvedConfig resolve(const Schema& schema, const YAML::Node& root, const std::string& origin,
                       std::span<const std::string> overrides) {
  ResolvedConfig cfg(&schema);
  if (root && !root.IsNull()) {
    if (!root.IsMap()) throw ConfigError(origin + ": the top level must be a map of keys");
    apply_tree(schema, cfg, root, "", origin);
  }
  for (const auto& o : overrides) {
    const std::string where = "--set " + o;
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(where + ": expected key=value");
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    const KeySpec& spec = schema.at(key, where);
    YAML::Node value;
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("{}: value '{}' is not valid YAML: {}", where, text, e.msg));
    }
    cfg.set(key, parse_value(spec, value, where));
  }
  return cfg;
}

ResolvedConfig resolve_file(const Schema& schema, const std::string& path,
                            std::span<const std::string> overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", path, e.mark.line + 1, e.msg));
  }
  return resolve(schema, root, path, overrides);
}

ResolvedConfig resolve_text(const Schema& schema, const std::string& yaml_text,
                            std::span<const std::string> overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("<text>:{}: YAML syntax error: {}", e.mark.line + 1, e.msg));
  }
  return resolve(schema, root, "<text>", overrides);
}

std::vector<std::string> missing_paths(const ResolvedConfig& cfg) {
  namespace fs = std::filesystem;
  std::vector<std::string> problems;
  for (const auto& spec : cfg.schema().keys()) {
    if (spec.path_check == PathCheck::None || !cfg.is_set(spec.path)) continue;
    const std::string p = cfg.get_string(spec.path);
    std::error_code ec;
    if (spec.path_check == PathCheck::ExistingFile && !fs::is_regular_file(p, ec))
      problems.push_back(fmt::format("key '{}': file '{}' does not exist", spec.path, p));
    if (spec.path_check == PathCheck::ExistingDir && !fs::is_directory(p, ec))
      problems.push_back(fmt::format("key '{}': directory '{}' does not exist", spec.path, p));
  }
  return problems;
}

}  // namespace wm::config
