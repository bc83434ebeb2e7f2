// RoPE frequencies and angles shared by the RoPE kernels: inv_freq[i] = theta^(-2i/D) computed on
// the host in fp32 (as the CPU reference), angle = float(pos) * inv_freq[i] in fp32, and cos/sin
// evaluated in double (fast-math sinf is inaccurate for angles of thousands of radians).
#pragma once

#include <cmath>
#include <cstdint>

namespace wm::cuda {

constexpr int kRopeMaxHalf = 256;  // head_dim up to 512
struct InvFreq { float v[kRopeMaxHalf]; };

inline InvFreq rope_inv_freq(float theta, int64_t D) {
  InvFreq inv{};
  for (int64_t i = 0; i < D / 2; ++i)
    inv.v[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(D));
  return inv;
}

__device__ __forceinline__ float2 rope_cos_sin(int32_t pos, float inv_freq) {
  const float angle = float(pos) * inv_freq;
  return make_float2(float(cos(double(angle))), float(sin(double(angle))));
}

}  // namespace wm::cuda
