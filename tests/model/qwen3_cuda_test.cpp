// The model on CUDA against the same model on the CPU (skipped without a GPU), on a batch long
// enough to span several attention tiles and loss chunks, with WeMask on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "kernels/backend.h"
#include "model/host_io.h"
#include "tests/model/model_test_util.h"

namespace wm::test {
namespace {

HostBatch long_batch() {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> tok(0, 63);
  auto doc = [&](int n) {
    std::vector<int32_t> d(n);
    for (auto& t : d) t = tok(rng);
    return d;
  };
  return pack_documents({{doc(70), doc(150), doc(37)}, {doc(300)}}, 300);
}

struct Result {
  double loss;
  std::vector<double> grads;
  std::vector<std::vector<int32_t>> dims;
};

// Two rows that are each one whole document: the layout cuDNN's fused attention takes on CUDA.
HostBatch whole_rows_batch() {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> tok(0, 63);
  std::vector<std::vector<std::vector<int32_t>>> rows(2);
  for (auto& r : rows) {
    r.emplace_back(256);
    for (auto& t : r.back()) t = tok(rng);
  }
  return pack_documents(rows, 256);
}

Result run(Device device, DType dtype, bool recompute, const HostBatch& batch = long_batch()) {
  const Qwen3Config cfg = tiny_config(true);
  ParamStore init(cfg, DType::F32, Device::CPU);
  init_random(init, 42);
  ModelOptions o;
  o.device = device;
  o.dtype = dtype;
  o.recompute = recompute;
  o.max_tokens = 600;
  o.loss_chunk = 128;
  o.wemask = WeMaskSpec{true, {1}, 0.125, 0.8, WeMaskSelect::Activation};
  Qwen3Model model(cfg, o);
  model.params().load(init.params(), "init");
  model.params().zero_grad();
  Result r;
  r.loss = model.forward_backward(Batch(batch, device));
  r.grads = to_host_f64(model.params().flat_grads());
  r.dims = {model.wemask().selected_dims(0), model.wemask().selected_dims(1)};
  return r;
}

double relative_l2(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0.0, n = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

TEST(Qwen3ModelCuda, MatchesCpuOnALongPackedBatch) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU";
  const Result cpu = run(Device::CPU, DType::F32, false);
  const Result gpu = run(Device::CUDA, DType::F32, false);
  const Result gpu_rc = run(Device::CUDA, DType::F32, true);
  const Result bf16 = run(Device::CUDA, DType::BF16, true);
  std::printf("  loss cpu %.6f, cuda f32 %.6f, cuda bf16 %.6f; grad rel L2: f32 %.2e, bf16 %.2e\n", cpu.loss,
              gpu.loss, bf16.loss, relative_l2(gpu.grads, cpu.grads), relative_l2(bf16.grads, cpu.grads));
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-3 * cpu.loss);
  EXPECT_LT(relative_l2(gpu.grads, cpu.grads), 5e-2);
  EXPECT_EQ(gpu.dims, cpu.dims);
  EXPECT_EQ(gpu_rc.loss, gpu.loss);
  EXPECT_LT(relative_l2(gpu_rc.grads, gpu.grads), 1e-6);  // recompute: same kernels, same inputs
  EXPECT_NEAR(bf16.loss, cpu.loss, 1e-2 * cpu.loss);
  EXPECT_LT(relative_l2(bf16.grads, cpu.grads), 0.2);
}

// Whole-row documents take cuDNN's fused attention in bf16 (WEMASK_ATTENTION=own: the built-in
// kernels): both agree with the CPU model and with each other.
TEST(Qwen3ModelCuda, WholeRowBatchCudnnAttentionMatchesBuiltinAndCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU";
  const HostBatch batch = whole_rows_batch();
  ASSERT_TRUE(Batch(batch, Device::CPU).attn_docs().whole_rows);
  ASSERT_FALSE(Batch(long_batch(), Device::CPU).attn_docs().whole_rows);
  const Result cpu = run(Device::CPU, DType::F32, false, batch);
  const Result cudnn = run(Device::CUDA, DType::BF16, false, batch);
  setenv("WEMASK_ATTENTION", "own", 1);
  const Result own = run(Device::CUDA, DType::BF16, false, batch);
  unsetenv("WEMASK_ATTENTION");
  std::printf("  loss cpu %.6f, bf16 cudnn %.6f, bf16 built-in %.6f; grad rel L2 vs cpu: cudnn %.2e, built-in %.2e\n",
              cpu.loss, cudnn.loss, own.loss, relative_l2(cudnn.grads, cpu.grads), relative_l2(own.grads, cpu.grads));
  EXPECT_NEAR(cudnn.loss, cpu.loss, 1e-2 * cpu.loss);
  EXPECT_NEAR(cudnn.loss, own.loss, 5e-3 * cpu.loss);
  EXPECT_LT(relative_l2(cudnn.grads, cpu.grads), 0.2);
  EXPECT_LT(relative_l2(cudnn.grads, own.grads), 0.1);
  EXPECT_NE(cudnn.grads, own.grads);  // a different kernel ran (bf16 rounding differs somewhere)
}

// Packed rows (several documents, padding) through cuDNN's ragged attention in bf16 (opt-in:
// WEMASK_ATTENTION=cudnn_docs): same agreement expected. Known failure (H100, 2026-11-22): the
// gradients disagree (rel L2 vs our kernels 0.198 > 0.1), which is why the ragged path is
// experimental and off by default; enable this test when it is fixed.
TEST(Qwen3ModelCuda, DISABLED_PackedBatchCudnnAttentionMatchesBuiltinAndCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU";
  const AttnDocs docs = Batch(long_batch(), Device::CPU).attn_docs();
  EXPECT_EQ(docs.num_docs, 4);  // 70, 150, 37 (+ 43 padding) | 300
  EXPECT_EQ(docs.max_doc_len, 300);
  const Result cpu = run(Device::CPU, DType::F32, false);
  setenv("WEMASK_ATTENTION", "cudnn_docs", 1);
  const Result cudnn = run(Device::CUDA, DType::BF16, false);
  setenv("WEMASK_ATTENTION", "own", 1);
  const Result own = run(Device::CUDA, DType::BF16, false);
  unsetenv("WEMASK_ATTENTION");
  std::printf("  packed: loss cpu %.6f, bf16 cudnn %.6f, bf16 built-in %.6f; grad rel L2 vs cpu: cudnn %.2e, built-in %.2e\n",
              cpu.loss, cudnn.loss, own.loss, relative_l2(cudnn.grads, cpu.grads), relative_l2(own.grads, cpu.grads));
  EXPECT_NEAR(cudnn.loss, cpu.loss, 1e-2 * cpu.loss);
  EXPECT_NEAR(cudnn.loss, own.loss, 5e-3 * cpu.loss);
  EXPECT_LT(relative_l2(cudnn.grads, cpu.grads), 0.2);
  EXPECT_LT(relative_l2(cudnn.grads, own.grads), 0.1);
  EXPECT_NE(cudnn.grads, own.grads);
}

}  // namespace
}  // namespace wm::test
