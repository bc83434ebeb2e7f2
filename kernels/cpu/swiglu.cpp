// SwiGLU on packed gate/up: out = silu(gate) * up, gate_up [N, 2F].
// As in HF, silu(gate) is rounded to the storage dtype before the product (a no-op for F32/F64).
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {

void CpuBackend::swiglu_forward(Tensor out, const Tensor& gate_up) {
  const char* op = "swiglu_forward";
  check_float(op, "gate_up", gate_up);
  check_rank(op, "gate_up", gate_up, 2);
  const int64_t N = gate_up.size(0), F = gate_up.size(1) / 2;
  if (gate_up.size(1) % 2 != 0) fail(op, "gate_up must have an even number of columns, got " + gate_up.describe());
  check_dtype(op, "out", out, gate_up.dtype);
  check_shape(op, "out", out, {N, F});
  dispatch_float(op, gate_up, true, [&]<class T>() {
    using C = compute_t<T>;
    const T* gu = static_cast<const T*>(gate_up.data);
    T* po = static_cast<T*>(out.data);
#pragma omp parallel for if (N * F > (1 << 15))
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < F; ++f) {
        const C g = to_compute(gu[n * 2 * F + f]), u = to_compute(gu[n * 2 * F + F + f]);
        const C silu = to_compute(from_compute<T>(g / (C(1) + std::exp(-g))));
        po[n * F + f] = from_compute<T>(silu * u);
      }
  });
}

void CpuBackend::swiglu_backward(Tensor dgate_up, const Tensor& dout, const Tensor& gate_up) {
  const char* op = "swiglu_backward";
  check_float(op, "gate_up", gate_up);
  check_rank(op, "gate_up", gate_up, 2);
  const int64_t N = gate_up.size(0), F = gate_up.size(1) / 2;
  if (gate_up.size(1) % 2 != 0) fail(op, "gate_up must have an even number of columns, got " + gate_up.describe());
  check_dtype(op, "dgate_up", dgate_up, gate_up.dtype);
  check_shape(op, "dgate_up", dgate_up, {N, 2 * F});
  check_dtype(op, "dout", dout, gate_up.dtype);
  check_shape(op, "dout", dout, {N, F});
  dispatch_float(op, gate_up, true, [&]<class T>() {
    using C = compute_t<T>;
    const T* gu = static_cast<const T*>(gate_up.data);
    const T* dpo = static_cast<const T*>(dout.data);
    T* dgu = static_cast<T*>(dgate_up.data);
#pragma omp parallel for if (N * F > (1 << 15))
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < F; ++f) {
        const C g = to_compute(gu[n * 2 * F + f]), u = to_compute(gu[n * 2 * F + F + f]);
        const C d = to_compute(dpo[n * F + f]);
        const C sig = C(1) / (C(1) + std::exp(-g));
        // d silu / dg = sig * (1 + g * (1 - sig))
        dgu[n * 2 * F + f] = from_compute<T>(d * u * sig * (C(1) + g * (C(1) - sig)));
        dgu[n * 2 * F + F + f] = from_compute<T>(d * g * sig);
      }
  });
}

}  // namespace wm::cpu
