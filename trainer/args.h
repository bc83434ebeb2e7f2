// Minimal command-line parsing shared by the subcommands:
//   positional words, "--flag", "--key value" / "--key=value", and repeated "--set k=v".
#pragma once
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wm {

class Args {
 public:
  // value_flags: options that take a value (e.g. {"model", "input", "output"}).
  // bool_flags: options that take none. Anything else starting with "--" is an error.
  Args(std::span<const std::string> argv, std::vector<std::string> value_flags,
       std::vector<std::string> bool_flags = {});

  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::string>& sets() const { return sets_; }  // "--set k=v" entries
  bool has(const std::string& key) const;
  std::optional<std::string> get(const std::string& key) const;
  std::string require(const std::string& key) const;  // throws naming the missing --key
  std::string get_or(const std::string& key, const std::string& fallback) const;
  // The value of --key as a number (fallback when absent); throws naming --key when not a number.
  double number(const std::string& key, double fallback) const;

 private:
  std::vector<std::string> positional_;
  std::vector<std::string> sets_;
  std::map<std::string, std::string> values_;
};

}  // namespace wm
