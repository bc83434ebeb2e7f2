// GradSync in one process: the bucket layout over the flat gradient buffer, and exact micro-batch
// accumulation (each micro-batch's gradient computed alone, then summed in order).
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/ops.h"
#include "tests/model/model_test_util.h"
#include "trainer/dist/grad_sync.h"

namespace wm {
namespace {

ModelOptions cpu_options() {
  ModelOptions o;
  o.device = Device::CPU;
  o.dtype = DType::F32;
  o.max_tokens = 16;
  o.loss_chunk = 16;
  return o;
}

TEST(GradSync, BucketsCoverTheBufferLastLayerFirstEmbeddingLast) {
  for (bool tied : {false, true}) {
    Qwen3Config cfg = test::tiny_config(tied);
    cfg.num_hidden_layers = 3;
    Qwen3Model model(cfg, cpu_options());
    auto dist = dist::DistContext::single_process();
    const int64_t N = model.params().padded_numel();
    dist::GradSyncOptions o;
    o.bucket_bytes = 1;  // one layer per bucket
    auto buckets = dist::GradSync(*dist, model, o).buckets();
    ASSERT_EQ(buckets.size(), 4u);
    EXPECT_EQ(buckets.front().first.end, N);  // the final norm (and untied lm_head) go with the last layer
    for (int i = 0; i < 3; ++i) EXPECT_EQ(buckets[i].second, 2 - i);
    for (size_t i = 1; i < buckets.size(); ++i) EXPECT_EQ(buckets[i].first.end, buckets[i - 1].first.begin);
    EXPECT_EQ(buckets.back().first.begin, 0);
    EXPECT_EQ(buckets.back().second, -1);  // the embedding (and a tied lm_head): after the backward
    o.bucket_bytes = int64_t(1) << 30;     // everything but the embedding in one bucket
    auto big = dist::GradSync(*dist, model, o).buckets();
    ASSERT_EQ(big.size(), 2u);
    EXPECT_EQ(big[0].second, 0);
  }
}

// 3 micro-batches through GradSync == the three gradients computed alone and summed in order,
// bit for bit (that is what makes N ranks x 1 micro-batch equal 1 rank x N micro-batches).
TEST(GradSync, ExactAccumulationSumsSeparateGradientsInOrder) {
  Qwen3Model model(test::tiny_config(false), cpu_options());
  test::init_random(model.params(), 5);
  auto dist = dist::DistContext::single_process();
  const HostBatch batch = test::test_batch();
  std::vector<HostBatch> micro(3, batch);
  micro[1].tokens[0] = 9;  // three different micro-batches
  micro[2].tokens[3] = 1;
  const Tensor grads = model.params().flat_grads();
  const int64_t N = grads.numel();

  std::vector<float> expected(N, 0.0f), single(N);
  for (int i = 0; i < 3; ++i) {
    ops::zero(grads);
    model.forward_backward(Batch(micro[i], Device::CPU));
    std::memcpy(single.data(), grads.data, N * sizeof(float));
    for (int64_t j = 0; j < N; ++j) expected[j] = i == 0 ? single[j] : expected[j] + single[j];
  }

  dist::GradSyncOptions o;
  o.micro_batches = 3;
  dist::GradSync sync(*dist, model, o);
  for (int i = 0; i < 3; ++i) {
    sync.begin_micro(i);
    model.forward_backward(Batch(micro[i], Device::CPU));
    sync.end_micro(i);
  }
  EXPECT_EQ(std::memcmp(expected.data(), grads.data, N * sizeof(float)), 0);

  // Kernel accumulation in place (exact_accumulation: false) sums in another order: same values
  // up to rounding, so the test above is not vacuous.
  o.exact_accumulation = false;
  dist::GradSync in_place(*dist, model, o);
  for (int i = 0; i < 3; ++i) {
    in_place.begin_micro(i);
    model.forward_backward(Batch(micro[i], Device::CPU));
    in_place.end_micro(i);
  }
  double max_diff = 0;
  for (int64_t j = 0; j < N; ++j) max_diff = std::max(max_diff, std::abs(double(expected[j]) - grads.ptr<float>()[j]));
  EXPECT_LT(max_diff, 1e-5);
}

}  // namespace
}  // namespace wm
