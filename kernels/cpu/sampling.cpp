// sample_tokens: one token per row of logits by inverse-CDF sampling at a temperature (or argmax),
// with the token's log-probability. Computed in double.
#include <cmath>
#include <limits>
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {

void CpuBackend::sample_tokens(Tensor ids, Tensor logprobs, const Tensor& logits, const Tensor& uniforms,
                               float temperature) {
  const char* op = "sample_tokens";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t B = logits.size(0), V = logits.size(1);
  if (V == 0) fail(op, "logits have no columns: " + logits.describe());
  check_dtype(op, "ids", ids, DType::I32);
  check_shape(op, "ids", ids, {B});
  check_dtype(op, "logprobs", logprobs, DType::F32);
  check_shape(op, "logprobs", logprobs, {B});
  check_dtype(op, "uniforms", uniforms, DType::F32);
  check_shape(op, "uniforms", uniforms, {B});
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    fail(op, "temperature must be finite and >= 0, got " + std::to_string(temperature));
  const float* pu = uniforms.ptr<const float>();
  for (int64_t b = 0; b < B; ++b)
    if (!(pu[b] >= 0.0f && pu[b] < 1.0f))
      fail(op, "uniforms[" + std::to_string(b) + "] = " + std::to_string(pu[b]) + " is outside [0, 1)");
  dispatch_float(op, logits, true, [&]<class T>() {
    const T* pl = static_cast<const T*>(logits.data);
    const double inv_t = temperature > 0.0f ? 1.0 / static_cast<double>(temperature) : 1.0;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      const T* row = pl + b * V;
      auto z = [&](int64_t i) { return static_cast<double>(to_compute(row[i])) * inv_t; };
      double m = -std::numeric_limits<double>::infinity();
      int64_t arg = 0;
      for (int64_t i = 0; i < V; ++i)
        if (z(i) > m) { m = z(i); arg = i; }
      double total = 0.0;
      for (int64_t i = 0; i < V; ++i) total += std::exp(z(i) - m);
      int64_t pick = arg;
      if (temperature > 0.0f) {
        const double target = static_cast<double>(pu[b]) * total;
        double cum = 0.0;
        for (int64_t i = 0; i < V; ++i) {
          const double e = std::exp(z(i) - m);
          cum += e;
          if (e > 0.0) pick = i;  // rounding fallback: the last token with mass
          if (cum > target && e > 0.0) break;
        }
      }
      ids.ptr<int32_t>()[b] = static_cast<int32_t>(pick);
      logprobs.ptr<float>()[b] = static_cast<float>(z(pick) - m - std::log(total));
    }
  });
}

}  // namespace wm::cpu
