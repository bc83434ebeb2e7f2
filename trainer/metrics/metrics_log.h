// The JSONL metrics file: one JSON object per line ({"step": 10, "loss": 1.23, ...}), flushed
// after every line so that a killed run keeps everything it logged.
#pragma once
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wm {

class MetricsLog {
 public:
  MetricsLog() = default;
  // append: keep existing lines (a resumed run); otherwise start a new file.
  MetricsLog(const std::string& path, bool append);
  bool is_open() const { return out_.is_open(); }
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// Every record of a metrics file; throws std::runtime_error naming file:line on a bad line.
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace wm
