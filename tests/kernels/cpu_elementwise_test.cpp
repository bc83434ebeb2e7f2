#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;
using testing::set;

TEST(CpuElementwise, FillEveryDtype) {
  for (DType dt : {DType::F32, DType::F64, DType::BF16, DType::F16}) {
    OwnedTensor t({3, 5}, dt);
    ops::fill(t, 2.5);
    for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(get(t, i), 2.5) << dtype_name(dt);
  }
  OwnedTensor i32({4}, DType::I32);
  ops::fill(i32, -7);
  for (int32_t v : i32.span<int32_t>()) EXPECT_EQ(v, -7);
  OwnedTensor i64({4}, DType::I64);
  ops::fill(i64, 3e10);
  for (int64_t v : i64.span<int64_t>()) EXPECT_EQ(v, int64_t(30000000000));
}

TEST(CpuElementwise, CopyChecksDtypeAndNumel) {
  std::mt19937 rng(1);
  OwnedTensor a = random_tensor({3, 7}, DType::F32, rng);
  OwnedTensor b({21}, DType::F32);
  ops::copy(b, a);
  for (int64_t i = 0; i < 21; ++i) EXPECT_EQ(get(b, i), get(a, i));
  OwnedTensor wrong_dtype({21}, DType::F64), wrong_numel({20}, DType::F32);
  EXPECT_THROW(ops::copy(wrong_dtype, a), std::invalid_argument);
  EXPECT_THROW(ops::copy(wrong_numel, a), std::invalid_argument);
}

TEST(CpuElementwise, ConvertRoundsBf16ToNearestEven) {
  OwnedTensor src({6}, DType::F32), dst({6}, DType::BF16);
  const float ulp = 1.0f / 128;  // bf16 spacing in [1, 2)
  const float in[6] = {1.0f + ulp / 2,        // tie, 1.0 is even -> 1.0
                       1.0f + 3 * ulp / 2,    // tie, 1+ulp is odd -> 1 + 2 ulp
                       1.0f + ulp / 2 + 1e-6f,  // just above the tie -> 1 + ulp
                       -1.0f - ulp / 2,       // ties to even on the negative side too
                       2.0f + 3 * ulp,        // tie in [2, 4) (spacing 2 ulp) -> even 2 + 4 ulp
                       0.1f};
  for (int i = 0; i < 6; ++i) src.ptr<float>()[i] = in[i];
  ops::convert(dst, src);
  EXPECT_EQ(get(dst, 0), 1.0);
  EXPECT_EQ(get(dst, 1), 1.0 + 2 * ulp);
  EXPECT_EQ(get(dst, 2), 1.0 + ulp);
  EXPECT_EQ(get(dst, 3), -1.0);
  EXPECT_EQ(get(dst, 4), 2.0 + 4 * ulp);
  EXPECT_NEAR(get(dst, 5), 0.1, 0.1 / 256);
  // And back to F64 exactly.
  OwnedTensor back({6}, DType::F64);
  ops::convert(back, dst);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(get(back, i), get(dst, i));
}

TEST(CpuElementwise, ConvertBetweenFloatDtypes) {
  std::mt19937 rng(2);
  OwnedTensor d = random_tensor({37}, DType::F64, rng, -100, 100);
  OwnedTensor f({37}, DType::F32), h({37}, DType::F16);
  ops::convert(f, d);
  ops::convert(h, f);
  for (int64_t i = 0; i < 37; ++i) {
    EXPECT_EQ(get(f, i), static_cast<double>(static_cast<float>(get(d, i))));
    EXPECT_EQ(get(h, i), f16_to_float(float_to_f16(static_cast<float>(get(f, i)))));
  }
  OwnedTensor ints({37}, DType::I32), short_dst({36}, DType::F32);
  EXPECT_THROW(ops::convert(ints, d), std::invalid_argument);
  EXPECT_THROW(ops::convert(short_dst, d), std::invalid_argument);
}

TEST(CpuElementwise, AddAndScale) {
  std::mt19937 rng(3);
  for (DType dt : {DType::F32, DType::F64}) {
    OwnedTensor y = random_tensor({5, 3}, dt, rng), x = random_tensor({15}, dt, rng);
    const std::vector<double> y0 = testing::to_vector(y);
    ops::add(y, x, -0.5f);
    for (int64_t i = 0; i < 15; ++i) EXPECT_NEAR(get(y, i), y0[i] - 0.5 * get(x, i), 1e-6);
    ops::scale(y, 3.0f);
    for (int64_t i = 0; i < 15; ++i) EXPECT_NEAR(get(y, i), 3 * (y0[i] - 0.5 * get(x, i)), 1e-5);
  }
  OwnedTensor a({4}, DType::F32), b({4}, DType::F64), c({5}, DType::F32);
  EXPECT_THROW(ops::add(a, b), std::invalid_argument);
  EXPECT_THROW(ops::add(a, c), std::invalid_argument);
}

TEST(CpuElementwise, SumSquaresAccumulatesInDouble) {
  std::mt19937 rng(4);
  OwnedTensor x = random_tensor({301}, DType::F32, rng);
  double expected = 0;
  for (int64_t i = 0; i < 301; ++i) expected += get(x, i) * get(x, i);
  EXPECT_DOUBLE_EQ(ops::sum_squares(x), expected);
  // 2^24 + 1 ones: fp32 accumulation would get stuck at 2^24.
  OwnedTensor ones({(1 << 24) + 1}, DType::BF16);
  ops::fill(ones, 1.0);
  EXPECT_EQ(ops::sum_squares(ones), double((1 << 24) + 1));
}

TEST(CpuElementwise, HasNonfinite) {
  for (DType dt : {DType::F32, DType::F64, DType::BF16}) {
    OwnedTensor x({9}, dt);
    ops::fill(x, 1.0);
    EXPECT_FALSE(ops::has_nonfinite(x));
    set(x, 4, std::numeric_limits<double>::quiet_NaN());
    EXPECT_TRUE(ops::has_nonfinite(x)) << dtype_name(dt);
    set(x, 4, 0.0);
    set(x, 8, -std::numeric_limits<double>::infinity());
    EXPECT_TRUE(ops::has_nonfinite(x)) << dtype_name(dt);
  }
  OwnedTensor ints({3}, DType::I32);
  EXPECT_THROW(ops::has_nonfinite(ints), std::invalid_argument);
}

TEST(CpuElementwise, ErrorsNameTheOpAndTensor) {
  OwnedTensor a({4}, DType::F32), c({5}, DType::F32);
  try {
    ops::add(a, c);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[5] cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wm
