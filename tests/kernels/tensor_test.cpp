#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"

namespace wm {

TEST(Tensor, ViewSliceAndIndex) {
  OwnedTensor a({2, 3, 4}, DType::F32);
  for (int i = 0; i < 24; ++i) a.ptr<float>()[i] = static_cast<float>(i);
  Tensor v = a.t().view({6, -1});
  EXPECT_EQ(v.size(0), 6);
  EXPECT_EQ(v.size(1), 4);
  Tensor r = a.t()[1];
  EXPECT_EQ(r.ndim, 2);
  EXPECT_EQ(r.ptr<float>()[0], 12.0f);
  Tensor s = v.slice(2, 4);
  EXPECT_EQ(s.numel(), 8);
  EXPECT_EQ(s.ptr<float>()[0], 8.0f);
  EXPECT_THROW(a.t().view({5, -1}), std::invalid_argument);
  EXPECT_THROW(v.slice(5, 7), std::out_of_range);
  EXPECT_THROW(a.ptr<double>(), std::invalid_argument);
}

TEST(Tensor, Bf16AndF16RoundTrip) {
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(-3.5f)), -3.5f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
    EXPECT_EQ(f16_to_float(float_to_f16(f)), f) << f;
  EXPECT_TRUE(std::isinf(f16_to_float(float_to_f16(1e6f))));
}

TEST(Arena, AlignsAndRefusesOverflow) {
  Arena arena(1024, Device::CPU);
  Tensor a = arena.allocate({3}, DType::F32);
  Tensor b = arena.allocate({3}, DType::F32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data) % 256, 0u);
  EXPECT_NE(a.data, b.data);
  EXPECT_THROW(arena.allocate({1024}, DType::F32), std::runtime_error);
}

}  // namespace wm
