// AdamW with decoupled weight decay on fp32 master weights (see backend.h for the formula).
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {

void CpuBackend::adamw_update(Tensor master, const Tensor& grad, Tensor m, Tensor v,
                              const AdamWParams& hp, float grad_scale, Tensor weights) {
  const char* op = "adamw_update";
  check_dtype(op, "master", master, DType::F32);
  check_dtype(op, "m", m, DType::F32);
  check_dtype(op, "v", v, DType::F32);
  check_float(op, "grad", grad);
  const int64_t n = master.numel();
  check_numel(op, "grad", grad, n);
  check_numel(op, "m", m, n);
  check_numel(op, "v", v, n);
  if (hp.step < 1) fail(op, "step must be >= 1 (1-based), got " + std::to_string(hp.step));
  const bool with_weights = weights.data != nullptr;  // a default Tensor{} means "none"
  if (with_weights) check_numel(op, "weights", weights, n);
  const float b1 = hp.beta1, b2 = hp.beta2;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(hp.step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(hp.step)));
  float* p = master.ptr<float>();
  float* pm = m.ptr<float>();
  float* pv = v.ptr<float>();
  dispatch_float(op, grad, true, [&]<class G>() {
    const G* pg = static_cast<const G*>(grad.data);
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const float g = static_cast<float>(to_compute(pg[i])) * grad_scale;
      pm[i] = b1 * pm[i] + (1.0f - b1) * g;
      pv[i] = b2 * pv[i] + (1.0f - b2) * g * g;
      const float m_hat = pm[i] / bc1, v_hat = pv[i] / bc2;
      p[i] -= hp.lr * m_hat / (std::sqrt(v_hat) + hp.eps) + hp.lr * hp.weight_decay * p[i];
    }
  });
  if (with_weights) convert(weights, master);
}

}  // namespace wm::cpu
