// A vectorisable fp32 exp for the hot softmax loops (cross-entropy over a 150k vocabulary).
// Cody-Waite reduction x = n ln2 + r with |r| <= ln2/2, then the Cephes degree-6 polynomial
// (max error ~2 ulp against std::exp on normal results). Flushes to 0 below -87 (results that
// would be subnormal), saturates above 88; NaN stays NaN.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>

namespace wm::cpu {

inline float exp_fast(float x) {
  const float lo = -87.0f, hi = 88.0f;
  const float xc = std::min(std::max(x, lo), hi);
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504088896341f + round_magic) - round_magic;
  float r = xc - n * 0.693359375f;  // ln2 split in a high part exact in fp32 ...
  r = r - n * -2.12194440e-4f;      // ... and the low remainder
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  const float two_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float result = x < lo ? 0.0f : y * two_n;
  return x != x ? x : result;
}

}  // namespace wm::cpu
