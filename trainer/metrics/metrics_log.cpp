#include "trainer/metrics/metrics_log.h"

#include <filesystem>
#include <stdexcept>

namespace wm {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  out_.open(path, append ? std::ios::app : std::ios::trunc);
  if (!out_) throw std::runtime_error("cannot open metrics file '" + path + "' for writing");
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!out_.is_open()) return;
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write metrics file '" + path_ + "'");
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open metrics file '" + path + "'");
  std::vector<nlohmann::json> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      // A run killed mid-write may leave a truncated last line: tolerated only at the very end.
      if (in.peek() == EOF) break;
      throw std::runtime_error(path + ":" + std::to_string(n) + ": not a JSON object: " + e.what());
    }
    if (!out.back().is_object())
      throw std::runtime_error(path + ":" + std::to_string(n) + ": not a JSON object");
  }
  return out;
}

}  // namespace wm
