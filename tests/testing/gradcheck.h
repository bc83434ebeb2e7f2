// Test helpers for numerical checks on CPU tensors: seeded random fills, central finite
// differences (run them on F64 tensors), and relative-error measures. Header-only.
//
// Typical backward check of y = f(x):
//   std::mt19937 rng(7);
//   OwnedTensor x = random_tensor({5, 7}, DType::F64, rng);
//   OwnedTensor r = random_tensor({5, 7}, DType::F64, rng);     // weights turning y into a scalar
//   auto loss = [&] { forward(y, x); return dot(y, r); };        // L = sum(y * r)
//   std::vector<double> numeric = numeric_gradient(x, loss);
//   backward(dx, /*dy=*/r, x);                                    // analytic dL/dx
//   EXPECT_LT(max_rel_error(to_vector(dx), numeric), 1e-6);
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/buffer.h"

namespace wm::testing {

// Element i of a CPU float tensor (F32/F64/BF16/F16) as a double.
inline double get(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return t.ptr<float>()[i];
    case DType::F64: return t.ptr<double>()[i];
    case DType::BF16: return bf16_to_float(t.ptr<bf16>()[i]);
    case DType::F16: return f16_to_float(t.ptr<f16>()[i]);
    default: throw std::invalid_argument("testing::get: not a float tensor: " + t.describe());
  }
}

// Stores v into element i (rounding to nearest even for bf16/f16).
inline void set(const Tensor& t, int64_t i, double v) {
  switch (t.dtype) {
    case DType::F32: t.ptr<float>()[i] = static_cast<float>(v); break;
    case DType::F64: t.ptr<double>()[i] = v; break;
    case DType::BF16: t.ptr<bf16>()[i] = float_to_bf16(static_cast<float>(v)); break;
    case DType::F16: t.ptr<f16>()[i] = float_to_f16(static_cast<float>(v)); break;
    default: throw std::invalid_argument("testing::set: not a float tensor: " + t.describe());
  }
}

// Uniform values in [lo, hi) from rng (deterministic for a given seed).
inline void fill_uniform(const Tensor& t, std::mt19937& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) set(t, i, dist(rng));
}

inline OwnedTensor random_tensor(std::initializer_list<int64_t> shape, DType dtype, std::mt19937& rng,
                                 double lo = -1.0, double hi = 1.0) {
  OwnedTensor t(shape, dtype);
  fill_uniform(t, rng, lo, hi);
  return t;
}

// All elements as doubles.
inline std::vector<double> to_vector(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = get(t, i);
  return v;
}

// sum_i a_i * b_i (same numel); turns a tensor output into a scalar loss.
inline double dot(const Tensor& a, const Tensor& b) {
  if (a.numel() != b.numel())
    throw std::invalid_argument("testing::dot: " + a.describe() + " vs " + b.describe());
  double s = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) s += get(a, i) * get(b, i);
  return s;
}

// dL/dx by central differences (L(x + h e_i) - L(x - h e_i)) / 2h for every element of x.
// `loss` must recompute everything from x's current contents; x is restored afterwards.
// Use F64 tensors: with h = 1e-6 the error is ~1e-10 relative for smooth functions.
inline std::vector<double> numeric_gradient(const Tensor& x, const std::function<double()>& loss,
                                            double h = 1e-6) {
  if (x.dtype != DType::F64)
    throw std::invalid_argument("numeric_gradient needs an F64 tensor, got " + x.describe());
  double* p = x.ptr<double>();
  std::vector<double> grad(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = loss();
    p[i] = saved - h;
    const double down = loss();
    p[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

// max_i |actual_i - expected_i| / max(max_i |expected_i|, floor): an error relative to the
// largest expected magnitude, so that entries near zero do not blow it up. Sizes must match.
inline double max_rel_error(std::span<const double> actual, std::span<const double> expected,
                            double floor = 1e-30) {
  if (actual.size() != expected.size())
    throw std::invalid_argument("max_rel_error: sizes differ (" + std::to_string(actual.size()) + " vs " +
                                std::to_string(expected.size()) + ")");
  double scale = floor, err = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    scale = std::max(scale, std::fabs(expected[i]));
    err = std::max(err, std::fabs(actual[i] - expected[i]));
  }
  return err / scale;
}

inline double max_rel_error(const Tensor& actual, const Tensor& expected, double floor = 1e-30) {
  const std::vector<double> a = to_vector(actual), e = to_vector(expected);
  return max_rel_error(a, e, floor);
}

// A copy of t converted to dtype (through double).
inline OwnedTensor converted(const Tensor& t, DType dtype) {
  OwnedTensor out(std::span<const int64_t>(t.shape.data(), static_cast<size_t>(t.ndim)), dtype);
  for (int64_t i = 0; i < t.numel(); ++i) set(out, i, get(t, i));
  return out;
}

}  // namespace wm::testing
