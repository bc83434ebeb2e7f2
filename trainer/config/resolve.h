// Resolving a configuration: YAML file + "--set a.b=c" overrides, checked against a Schema.
// Every error names the file/line (or the override), the key and the offending value.
#pragma once
#include <map>
#include <span>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "trainer/config/config_value.h"
#include "trainer/config/schema.h"

namespace wm::config {

class ResolvedConfig {
 public:
  ResolvedConfig() = default;
  explicit ResolvedConfig(const Schema* schema);

  bool is_set(const std::string& key) const;  // false for null values
  const ConfigValue& get(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  std::vector<double> get_float_list(const std::string& key) const;
  // "from_me" style enum choice of an IntOrEnum / IntListOrEnum key, or "" when it holds numbers.
  std::string get_choice(const std::string& key) const;

  void set(const std::string& key, ConfigValue v);
  const Schema& schema() const { return *schema_; }
  const std::map<std::string, ConfigValue>& values() const { return values_; }

  // Nested YAML of every key in schema order (the "resolved config").
  std::string to_yaml() const;

 private:
  const Schema* schema_ = nullptr;
  std::map<std::string, ConfigValue> values_;
};

// Checks one YAML value against a key's spec; `where` prefixes error messages ("cfg.yaml:7").
ConfigValue parse_value(const KeySpec& spec, const YAML::Node& node, const std::string& where);

// Defaults, then the YAML tree, then the overrides ("a.b=c", value parsed as YAML).
ResolvedConfig resolve(const Schema& schema, const YAML::Node& root, const std::string& origin,
                       std::span<const std::string> overrides = {});
ResolvedConfig resolve_file(const Schema& schema, const std::string& path,
                            std::span<const std::string> overrides = {});
ResolvedConfig resolve_text(const Schema& schema, const std::string& yaml_text,
                            std::span<const std::string> overrides = {});

// Keys with a PathCheck whose file/dir does not exist: one message per problem (empty: all good).
std::vector<std::string> missing_paths(const ResolvedConfig& cfg);

}  // namespace wm::config
