// CUDA AdamW (f32 and bf16 gradients) and the WeMask helpers against the CPU reference.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA

namespace wm {
namespace {

using namespace cudatest;

TEST(CudaAdamW, MatchesCpuOverSteps) {
  WM_REQUIRE_CUDA();
  const int64_t n = (1 << 20) + 3;  // vector body + scalar tail
  for (DType gdt : {DType::F32, DType::BF16}) {
    OwnedTensor p_cpu = random_host({n}, DType::F32, 91), m_cpu({n}, DType::F32), v_cpu({n}, DType::F32);
    ops::zero(m_cpu);
    ops::zero(v_cpu);
    OwnedTensor p_gpu = to_device(p_cpu), m_gpu = to_device(m_cpu), v_gpu = to_device(v_cpu);
    AdamWParams hp;
    hp.lr = 1e-3f;
    hp.weight_decay = 0.1f;
    for (int step = 1; step <= 3; ++step) {
      hp.step = step;
      const OwnedTensor g = random_host({n}, gdt, 92 + step);
      ops::adamw_update(p_cpu, g, m_cpu, v_cpu, hp, 0.5f);
      ops::adamw_update(p_gpu, to_device(g), m_gpu, v_gpu, hp, 0.5f);
    }
    EXPECT_LT(rel_err(p_gpu, p_cpu), 1e-6) << dtype_name(gdt);
    EXPECT_LT(rel_err(m_gpu, m_cpu), 1e-6) << dtype_name(gdt);
    EXPECT_LT(rel_err(v_gpu, v_cpu), 1e-6) << dtype_name(gdt);
    // The fused bf16 copy of the updated weights equals convert(master) exactly.
    hp.step = 4;
    OwnedTensor w_gpu({n}, DType::BF16, Device::CUDA), w_ref({n}, DType::BF16, Device::CUDA);
    ops::adamw_update(p_gpu, to_device(random_host({n}, gdt, 99)), m_gpu, v_gpu, hp, 0.5f, w_gpu);
    ops::convert(w_ref, p_gpu);
    EXPECT_EQ(values(w_gpu), values(w_ref)) << dtype_name(gdt);
  }
}

TEST(CudaWeMask, ScaleEntriesAndMeanAbsRows) {
  WM_REQUIRE_CUDA();
  const int64_t N = 2048, d = 1024;
  const OwnedTensor x = random_host({N, d}, DType::BF16, 95, -5, 5);
  const OwnedTensor rows = int_tensor({0, 512, 1024, 2047}), dims = int_tensor({3, 77, 1000, 1023});
  OwnedTensor x_cpu = clone_host(x), x_gpu = to_device(x);
  ops::scale_entries(x_cpu, rows, dims, 0.25f);
  ops::scale_entries(x_gpu, to_device(rows), to_device(dims), 0.25f);
  EXPECT_EQ(rel_err(x_gpu, x_cpu), 0.0);
  EXPECT_GT(rel_err(x_gpu, x), 0.0);

  OwnedTensor m_cpu({d}, DType::F32), m_gpu({d}, DType::F32, Device::CUDA);
  ops::mean_abs_rows(m_cpu, x, rows);
  ops::mean_abs_rows(m_gpu, to_device(x), to_device(rows));
  EXPECT_LT(rel_err(m_gpu, m_cpu), 1e-6);

  ops::scale_entries(x_gpu, to_device(int_tensor({static_cast<int32_t>(N)})), to_device(dims), 2.0f);
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::out_of_range);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
