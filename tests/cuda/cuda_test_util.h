// Helpers of the CUDA-vs-CPU tests: upload/download, a relative error norm ||a - b|| / ||b||
// over any float tensors (either device), and the skip guard for machines without a GPU.
#pragma once
#ifdef WEMASK_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

#define WM_REQUIRE_CUDA()           \
  if (::wm::cuda_available()) {     \
  } else                            \
    GTEST_SKIP() << "no CUDA GPU on this machine"

namespace wm::cudatest {

inline std::vector<int64_t> shape_of(const Tensor& t) { return {t.shape.begin(), t.shape.begin() + t.ndim}; }

inline OwnedTensor to_device(const Tensor& host) {
  OwnedTensor d(shape_of(host), host.dtype, Device::CUDA);
  ops::copy(d, host);
  return d;
}

inline OwnedTensor to_host(const Tensor& dev) {
  OwnedTensor h(shape_of(dev), dev.dtype, Device::CPU);
  ops::copy(h, dev);
  return h;
}

// A fresh CPU copy (so that a CPU op may run in place without touching the original).
inline OwnedTensor clone_host(const Tensor& host) {
  OwnedTensor h(shape_of(host), host.dtype, Device::CPU);
  ops::copy(h, host);
  return h;
}

inline std::vector<double> values(const Tensor& t) {
  OwnedTensor h = to_host(t);
  std::vector<double> v(static_cast<size_t>(h.t().numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = testing::get(h, static_cast<int64_t>(i));
  return v;
}

// ||a - b|| / ||b|| (b is the reference); infinities that agree count as equal.
inline double rel_err(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = values(a), vb = values(b);
  EXPECT_EQ(va.size(), vb.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
    if (std::isinf(va[i]) && va[i] == vb[i]) continue;
    num += (va[i] - vb[i]) * (va[i] - vb[i]);
    den += vb[i] * vb[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

inline OwnedTensor random_host(std::initializer_list<int64_t> shape, DType dt, uint32_t seed, double lo = -1.0,
                               double hi = 1.0) {
  std::mt19937 rng(seed);
  return testing::random_tensor(shape, dt, rng, lo, hi);
}

inline OwnedTensor int_tensor(const std::vector<int32_t>& v) {
  OwnedTensor t({static_cast<int64_t>(v.size())}, DType::I32);
  std::copy(v.begin(), v.end(), t.ptr<int32_t>());
  return t;
}

inline Backend& cpu() { return backend(Device::CPU); }
inline Backend& gpu() { return backend(Device::CUDA); }

}  // namespace wm::cudatest
#endif  // WEMASK_HAVE_CUDA
