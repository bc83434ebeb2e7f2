#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "trainer/optim/lr_schedule.h"

using namespace wm;

TEST(LrSchedule, ConstantWithWarmupSteps) {
  ScheduleOptions o{ScheduleKind::Constant, 1.0, 0.0, 4, 0.0};
  LrSchedule s(o, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(1), 0.25);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);
}

TEST(LrSchedule, LinearDecaysToMin) {
  ScheduleOptions o{ScheduleKind::Linear, 1.0, 0.1, 0, 0.0};
  LrSchedule s(o, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(1), 1.0);
  EXPECT_NEAR(s.lr_at(6), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(s.lr_at(10), 0.1 + 0.9 * 0.1, 1e-12);
  for (int t = 2; t <= 10; ++t) EXPECT_LT(s.lr_at(t), s.lr_at(t - 1));
}

TEST(LrSchedule, CosineWithWarmupRatio) {
  ScheduleOptions o{ScheduleKind::Cosine, 2.0, 0.0, 0, 0.1};
  LrSchedule s(o, 100);
  EXPECT_EQ(s.warmup_steps(), 10);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(11), 2.0);
  const double p = 45.0 / 90.0;
  EXPECT_NEAR(s.lr_at(56), 2.0 * 0.5 * (1 + std::cos(std::numbers::pi * p)), 1e-12);
  EXPECT_GT(s.lr_at(100), 0.0);
  EXPECT_LT(s.lr_at(100), 0.01);
}

TEST(LrSchedule, WarmupRatioRoundsUpAndIsClamped) {
  ScheduleOptions o{ScheduleKind::Cosine, 1.0, 0.0, 0, 0.03};
  EXPECT_EQ(LrSchedule(o, 10).warmup_steps(), 1);
  o.warmup_steps = 50;
  EXPECT_EQ(LrSchedule(o, 10).warmup_steps(), 10);
  EXPECT_THROW(LrSchedule(o, 0), std::invalid_argument);
  o.min_lr = 2.0;
  EXPECT_THROW(LrSchedule(o, 10), std::invalid_argument);
}
