// The error every bad input in data/ raises: it names the file and the (1-based) line.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace wm {

class DataError : public std::runtime_error {
 public:
  DataError(const std::string& file, int64_t line, const std::string& what)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + what), file_(file), line_(line) {}
  const std::string& file() const { return file_; }
  int64_t line() const { return line_; }

 private:
  std::string file_;
  int64_t line_;
};

}  // namespace wm
