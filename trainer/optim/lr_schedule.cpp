#include "trainer/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace wm {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  throw std::invalid_argument("unknown LR schedule '" + name + "' (constant | linear | cosine)");
}

LrSchedule::LrSchedule(const ScheduleOptions& options, int64_t total_steps)
    : options_(options), total_(total_steps) {
  if (total_steps < 1) throw std::invalid_argument("LrSchedule: total_steps must be >= 1");
  if (options.min_lr > options.peak_lr)
    throw std::invalid_argument("LrSchedule: min_lr is larger than the peak lr");
  warmup_ = options.warmup_steps > 0
                ? options.warmup_steps
                : static_cast<int64_t>(std::ceil(options.warmup_ratio * static_cast<double>(total_steps) - 1e-9));
  warmup_ = std::clamp<int64_t>(warmup_, 0, total_steps);
}

double LrSchedule::lr_at(int64_t step) const {
  const double peak = options_.peak_lr, low = options_.min_lr;
  step = std::clamp<int64_t>(step, 1, total_);
  if (step <= warmup_) return peak * static_cast<double>(step) / static_cast<double>(warmup_);
  if (options_.kind == ScheduleKind::Constant) return peak;
  // progress: 0 at the first step after warm-up, (n-1)/n at the last of the n decay steps
  // (as Hugging Face schedules do), so no step is taken with exactly min_lr.
  const double progress =
      static_cast<double>(step - warmup_ - 1) / static_cast<double>(total_ - warmup_);
  if (options_.kind == ScheduleKind::Linear) return low + (peak - low) * (1.0 - progress);
  return low + (peak - low) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace wm
