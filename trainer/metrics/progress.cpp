#include "trainer/metrics/progress.h"

#include <cmath>
#include <fstream>

#include <fmt/format.h>

namespace wm {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(s));
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
}

std::string format_bytes(int64_t b) {
  const double mib = static_cast<double>(b) / (1 << 20);
  if (mib < 1024) return fmt::format("{:.0f} MiB", mib);
  return fmt::format("{:.1f} GiB", mib / 1024);
}

std::string format_rate(double r) {
  if (r < 1e3) return fmt::format("{:.0f}", r);
  if (r < 1e6) return fmt::format("{:.1f}k", r / 1e3);
  return fmt::format("{:.1f}M", r / 1e6);
}

std::string format_progress(const ProgressInfo& p) {
  return fmt::format("step {}/{} | loss {:.4f} | lr {:.2e} | gnorm {:.3f} | {} tok/s | mfu {} | mem {} | eta {}",
                     p.step, p.total_steps, p.loss, p.lr, p.grad_norm, format_rate(p.tokens_per_s),
                     p.mfu ? fmt::format("{:.1f}%", *p.mfu * 100) : std::string("n/a"),
                     p.memory_bytes ? format_bytes(*p.memory_bytes) : std::string("n/a"),
                     format_duration(p.eta_s));
}

double flops_per_token(const Qwen3Config& cfg, int64_t seq) {
  return 6.0 * static_cast<double>(cfg.matmul_params()) +
         12.0 * static_cast<double>(cfg.num_hidden_layers) * static_cast<double>(cfg.q_dim()) *
             static_cast<double>(seq);
}

double model_flops_utilisation(double tokens_per_s, double fpt, double peak_flops) {
  return tokens_per_s * fpt / peak_flops;
}

std::optional<int64_t> resident_memory_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kb = 0;
      if (in >> kb) return kb * 1024;
      return std::nullopt;
    }
    in.ignore(1 << 12, '\n');
  }
  return std::nullopt;
}

double eta_seconds(double elapsed_s, int64_t done, int64_t left) {
  if (done <= 0) return NAN;
  return elapsed_s / static_cast<double>(done) * static_cast<double>(left);
}

}  // namespace wm
