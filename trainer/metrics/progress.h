// The one-line progress report of a training step and the numbers that go into it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "model/config.h"

namespace wm {

struct ProgressInfo {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  double tokens_per_s = 0;
  std::optional<double> mfu;           // fraction of peak; nullopt prints "n/a" (CPU)
  std::optional<int64_t> memory_bytes; // nullopt prints "n/a"
  double eta_s = 0;
};

// "step 12/300 | loss 2.3456 | lr 2.00e-05 | gnorm 1.234 | 1.2k tok/s | mfu 41.3% | mem 1.2 GiB | eta 3m05s"
std::string format_progress(const ProgressInfo& p);
std::string format_duration(double seconds);  // "42s", "3m05s", "1h02m"
std::string format_bytes(int64_t bytes);       // "812 MiB", "1.2 GiB"
std::string format_rate(double per_second);    // "950", "1.2k", "3.4M"

// Model FLOPs per trained token at sequence length S: 6·N_matmul + 12·L·q_dim·S
// (forward + backward of the matmuls and of causal attention over S).
double flops_per_token(const Qwen3Config& cfg, int64_t seq);
// Model FLOPs utilisation against `peak_flops` (989e12: H100 dense bf16).
double model_flops_utilisation(double tokens_per_s, double flops_per_token, double peak_flops = 989e12);

// Resident set size of this process (Linux /proc/self/status), or nullopt.
std::optional<int64_t> resident_memory_bytes();

// Remaining time from the average of the steps done so far in this run.
double eta_seconds(double elapsed_s, int64_t steps_done_this_run, int64_t steps_left);

}  // namespace wm
