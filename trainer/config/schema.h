// A typed configuration schema: every valid key (dotted path), its type, default, range,
// allowed choices, whether it names a file that must exist, and a one-line doc.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "trainer/config/config_value.h"

namespace wm::config {

enum class ValueType {
  Bool,
  Int,
  Float,
  String,
  Enum,           // one of `choices`
  IntOrEnum,      // an integer or one of `choices` (e.g. me_layer: auto | 12)
  IntListOrEnum,  // a list of integers or one of `choices` (e.g. layers: from_me | [3, 4])
  FloatList,      // a list of floats (`list_size` elements when set)
};

enum class PathCheck { None, ExistingFile, ExistingDir };

struct KeySpec {
  std::string path;            // "optim.lr"
  ValueType type = ValueType::String;
  ConfigValue default_value;   // monostate: optional, no default
  std::string doc;
  std::optional<double> min;   // inclusive bounds for numbers (and list elements)
  std::optional<double> max;
  std::vector<std::string> choices;
  PathCheck path_check = PathCheck::None;
  size_t list_size = 0;        // FloatList: exact length when > 0
};

class Schema {
 public:
  explicit Schema(std::vector<KeySpec> keys);
  const KeySpec* find(const std::string& path) const;
  // Like find, but throws ConfigError "unknown key 'x' (did you mean 'y'?)".
  const KeySpec& at(const std::string& path, const std::string& where = "") const;
  // True when `path` is a section ("optim") that has keys below it.
  bool is_section(const std::string& path) const;
  const std::vector<KeySpec>& keys() const { return keys_; }
  std::vector<std::string> paths() const;
  // "key  type  default  doc" lines for --help.
  std::string describe() const;

 private:
  std::vector<KeySpec> keys_;
};

const char* type_name(ValueType t);

}  // namespace wm::config
