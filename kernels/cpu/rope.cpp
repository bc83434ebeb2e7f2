// Rotary position embedding, rotate-half convention, in place on x [T, H, D].
// Angles follow HF exactly: inv_freq[i] = 1 / theta^(2i/D) and angle = float(pos) * inv_freq[i],
// both in fp32 (in double for F64 tensors).
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

// direction +1: forward rotation; -1: the transpose (inverse) rotation, used by backward.
void rope_apply(const char* op, Tensor x, const Tensor& pos, float theta, int direction) {
  check_float(op, "x", x);
  check_rank(op, "x", x, 3);
  const int64_t n_tok = x.size(0), H = x.size(1), D = x.size(2);
  if (D % 2 != 0) fail(op, "head dim must be even, got " + x.describe());
  check_dtype(op, "pos", pos, DType::I32);
  check_shape(op, "pos", pos, {n_tok});
  const int32_t* p = pos.ptr<const int32_t>();
  const int64_t half = D / 2;
  dispatch_float(op, x, true, [&]<class T>() {
    using C = compute_t<T>;
    std::vector<C> inv_freq(half);
    for (int64_t i = 0; i < half; ++i) {
      const C exponent = static_cast<C>(2 * i) / static_cast<C>(D);
      inv_freq[i] = C(1) / std::pow(static_cast<C>(theta), exponent);
    }
    T* px = static_cast<T*>(x.data);
    const C sign = direction > 0 ? C(1) : C(-1);
#pragma omp parallel if (n_tok * H * D > (1 << 15))
    {
      std::vector<C> cosv(half), sinv(half);
#pragma omp for
      for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t i = 0; i < half; ++i) {
          const C angle = static_cast<C>(p[t]) * inv_freq[i];
          cosv[i] = std::cos(angle);
          sinv[i] = sign * std::sin(angle);
        }
        for (int64_t h = 0; h < H; ++h) {
          T* row = px + (t * H + h) * D;
          for (int64_t i = 0; i < half; ++i) {
            const C a = to_compute(row[i]), b = to_compute(row[i + half]);
            row[i] = from_compute<T>(a * cosv[i] - b * sinv[i]);
            row[i + half] = from_compute<T>(b * cosv[i] + a * sinv[i]);
          }
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::rope_forward(Tensor x, const Tensor& pos, float theta) {
  rope_apply("rope_forward", x, pos, theta, +1);
}

void CpuBackend::rope_backward(Tensor dx, const Tensor& pos, float theta) {
  rope_apply("rope_backward", dx, pos, theta, -1);
}

}  // namespace wm::cpu
