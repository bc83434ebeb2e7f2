// Learning-rate schedules: linear warm-up to the peak, then constant, linear or cosine decay
// towards min_lr over the remaining steps. Steps are 1-based optimizer steps (the step about to be taken).
#pragma once
#include <cstdint>
#include <string>

namespace wm {

enum class ScheduleKind { Constant, Linear, Cosine };

ScheduleKind parse_schedule_kind(const std::string& name);  // "constant" | "linear" | "cosine"

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::Cosine;
  double peak_lr = 2e-5;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;   // used when > 0
  double warmup_ratio = 0.0;  // of total steps, used when warmup_steps == 0 (rounded up)
};

class LrSchedule {
 public:
  LrSchedule(const ScheduleOptions& options, int64_t total_steps);
  double lr_at(int64_t step) const;
  int64_t warmup_steps() const { return warmup_; }
  int64_t total_steps() const { return total_; }

 private:
  ScheduleOptions options_;
  int64_t total_;
  int64_t warmup_;
};

}  // namespace wm
