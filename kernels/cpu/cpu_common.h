// Shared helpers of the CPU reference kernels: argument checks that throw with the op name and
// the tensor description, float-type dispatch, and load/store between storage and compute types.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/tensor.h"

namespace wm::cpu {

// ---- compute types: storage T is computed in float, except double which stays double.
template <class T> struct ComputeOf { using type = float; };
template <> struct ComputeOf<double> { using type = double; };
template <class T> using compute_t = typename ComputeOf<T>::type;

// Statistics saved for backward (rstd, lse) are F32, or F64 when the inputs are F64.
template <class T> constexpr DType stat_dtype() { return std::is_same_v<T, double> ? DType::F64 : DType::F32; }

inline float to_compute(float v) { return v; }
inline double to_compute(double v) { return v; }
inline float to_compute(bf16 v) { return bf16_to_float(v); }
inline float to_compute(f16 v) { return f16_to_float(v); }

// Rounds a compute value to storage type T (bf16/f16 round to nearest even).
template <class T> inline T from_compute(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return static_cast<float>(v);
  else if constexpr (std::is_same_v<T, bf16>) return float_to_bf16(static_cast<float>(v));
  else return float_to_f16(static_cast<float>(v));
}
template <class T> inline T from_compute(float v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, bf16>) return float_to_bf16(v);
  else return float_to_f16(v);
}

// ---- argument checks
[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

inline void check_cpu(const char* op, const char* name, const Tensor& t) {
  if (t.device != Device::CPU) fail(op, std::string(name) + " must be a CPU tensor, got " + t.describe());
  if (!t.defined()) fail(op, std::string(name) + " has no data (" + t.describe() + ")");
}

inline void check_dtype(const char* op, const char* name, const Tensor& t, DType dt) {
  check_cpu(op, name, t);
  if (t.dtype != dt)
    fail(op, std::string(name) + " must be " + dtype_name(dt) + ", got " + t.describe());
}

inline void check_float(const char* op, const char* name, const Tensor& t) {
  check_cpu(op, name, t);
  if (!is_floating(t.dtype)) fail(op, std::string(name) + " must be a float tensor, got " + t.describe());
}

inline std::string shape_string(std::initializer_list<int64_t> dims) {
  std::string s = "[";
  bool first = true;
  for (auto d : dims) {
    if (!first) s += ',';
    s += std::to_string(d);
    first = false;
  }
  s += ']';
  return s;
}

// Exact shape check (rank and every extent).
inline void check_shape(const char* op, const char* name, const Tensor& t, std::initializer_list<int64_t> dims) {
  bool ok = t.ndim == static_cast<int>(dims.size());
  int i = 0;
  for (auto d : dims) ok = ok && i < t.ndim && t.shape[i++] == d;
  if (!ok) fail(op, std::string(name) + " must have shape " + shape_string(dims) + ", got " + t.describe());
}

inline void check_rank(const char* op, const char* name, const Tensor& t, int ndim) {
  if (t.ndim != ndim)
    fail(op, std::string(name) + " must be " + std::to_string(ndim) + "-D, got " + t.describe());
}

inline void check_numel(const char* op, const char* name, const Tensor& t, int64_t n) {
  if (t.numel() != n)
    fail(op, std::string(name) + " must have " + std::to_string(n) + " elements, got " + t.describe());
}

// ---- dtype dispatch: calls f.template operator()<T>() for the storage type of `dt`.
// Accepts F32 and F64 always, BF16/F16 when allow_half.
template <class F>
decltype(auto) dispatch_float(const char* op, const Tensor& t, bool allow_half, F&& f) {
  switch (t.dtype) {
    case DType::F32: return f.template operator()<float>();
    case DType::F64: return f.template operator()<double>();
    case DType::BF16: if (allow_half) return f.template operator()<bf16>(); break;
    case DType::F16: if (allow_half) return f.template operator()<f16>(); break;
    default: break;
  }
  fail(op, std::string("unsupported dtype ") + dtype_name(t.dtype) + " of " + t.describe());
}

}  // namespace wm::cpu

// Compile a hot function for AVX2 and AVX-512 too and pick one at run time (GCC, x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WM_MULTIVERSION __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define WM_MULTIVERSION
#endif
