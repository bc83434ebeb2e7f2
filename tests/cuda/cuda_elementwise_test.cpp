// CUDA fill/copy/convert/add/scale/sum_squares/has_nonfinite against the CPU reference.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA
#include <cmath>

namespace wm {
namespace {

using namespace cudatest;

TEST(CudaElementwise, FillCopyRoundTrip) {
  WM_REQUIRE_CUDA();
  for (DType dt : {DType::F32, DType::BF16, DType::I32}) {
    OwnedTensor d({1000, 37}, dt, Device::CUDA);
    ops::fill(d, 3.0);
    const OwnedTensor h = to_host(d);
    for (int64_t i = 0; i < h.t().numel(); i += 97) {
      const double v = dt == DType::I32 ? h.ptr<int32_t>()[i] : testing::get(h, i);
      ASSERT_EQ(v, 3.0) << dtype_name(dt) << " element " << i;
    }
  }
  const OwnedTensor src = random_host({513, 129}, DType::BF16, 1);
  const OwnedTensor dev = to_device(src);
  OwnedTensor dev2({513, 129}, DType::BF16, Device::CUDA);
  ops::copy(dev2, dev);  // device -> device
  EXPECT_EQ(rel_err(dev2, src), 0.0);
  OwnedTensor wrong({513, 129}, DType::F32, Device::CUDA);
  EXPECT_THROW(ops::copy(wrong, src), std::invalid_argument);
}

// Odd sizes exercise the scalar tail; a 1-element offset slice exercises the unaligned path.
TEST(CudaElementwise, ConvertAddScaleMatchCpu) {
  WM_REQUIRE_CUDA();
  for (int64_t n : {int64_t(1) << 20, int64_t(100003)}) {
    const OwnedTensor xf = random_host({n}, DType::F32, 2, -4, 4);
    const OwnedTensor yb = random_host({n}, DType::BF16, 3, -4, 4);
    // convert f32 -> bf16 and back: bit-exact with the CPU (round to nearest even).
    OwnedTensor xb_cpu({n}, DType::BF16), xb_gpu({n}, DType::BF16, Device::CUDA);
    ops::convert(xb_cpu, xf);
    ops::convert(xb_gpu, to_device(xf));
    EXPECT_EQ(rel_err(xb_gpu, xb_cpu), 0.0);
    OwnedTensor back({n}, DType::F32, Device::CUDA);
    ops::convert(back, xb_gpu);
    EXPECT_EQ(rel_err(back, xb_cpu), 0.0);

    // add / scale in bf16 and f32 (tolerance: one bf16 rounding on a few elements).
    for (DType dt : {DType::BF16, DType::F32}) {
      OwnedTensor y_cpu({n}, dt), x_cpu({n}, dt);
      ops::convert(y_cpu, yb);
      ops::convert(x_cpu, xf);
      OwnedTensor y_gpu = to_device(y_cpu);
      const OwnedTensor x_gpu = to_device(x_cpu);
      ops::add(y_cpu, x_cpu, -0.75f);
      ops::add(y_gpu, x_gpu, -0.75f);
      ops::scale(y_cpu, 1.3f);
      ops::scale(y_gpu, 1.3f);
      EXPECT_LT(rel_err(y_gpu, y_cpu), dt == DType::BF16 ? 2e-3 : 1e-6) << dtype_name(dt) << " n=" << n;
      // Unaligned views (offset by one element).
      Tensor yv = y_gpu.t().slice(1, n), xv = x_gpu.t().slice(1, n);
      Tensor yc = y_cpu.t().slice(1, n), xc = x_cpu.t().slice(1, n);
      ops::add(yv, xv, 0.5f);
      ops::add(yc, xc, 0.5f);
      EXPECT_LT(rel_err(y_gpu, y_cpu), dt == DType::BF16 ? 2e-3 : 1e-6) << dtype_name(dt) << " unaligned";
    }
  }
}

TEST(CudaElementwise, SumSquaresAndNonfinite) {
  WM_REQUIRE_CUDA();
  for (DType dt : {DType::BF16, DType::F32}) {
    const OwnedTensor x = random_host({3, 1000003}, dt, 4);
    const OwnedTensor d = to_device(x);
    const double ref = ops::sum_squares(x);
    EXPECT_NEAR(ops::sum_squares(d), ref, 1e-4 * ref) << dtype_name(dt);  // fp32 accumulation
    EXPECT_FALSE(ops::has_nonfinite(d));
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      OwnedTensor one({1}, dt);
      testing::set(one, 0, bad);
      ops::copy(d.t().view({-1}).slice(2000001, 2000002), one);
      EXPECT_TRUE(ops::has_nonfinite(d)) << dtype_name(dt) << " " << bad;
      ops::copy(d, x);
    }
  }
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
