// CUDA embedding (forward, deterministic backward with repeated ids) and cross-entropy over the
// Qwen3 vocabulary (151936) against the CPU reference; device-side index errors.
#include "tests/cuda/cuda_test_util.h"

#ifdef WEMASK_HAVE_CUDA

namespace wm {
namespace {

using namespace cudatest;

TEST(CudaEmbedding, ForwardBackwardRepeatedIds) {
  WM_REQUIRE_CUDA();
  const int64_t V = 32000, d = 1024, T = 2048;
  std::mt19937 rng(71);
  std::uniform_int_distribution<int32_t> id(0, 300);  // many repeats
  std::vector<int32_t> ids(T);
  for (auto& i : ids) i = id(rng);
  ids[5] = static_cast<int32_t>(V - 1);
  const OwnedTensor ids_h = int_tensor(ids), ids_d = to_device(ids_h);
  for (DType dt : {DType::BF16, DType::F32}) {
    const OwnedTensor table = random_host({V, d}, dt, 72);
    OwnedTensor o_cpu({T, d}, dt), o_gpu({T, d}, dt, Device::CUDA);
    const OwnedTensor table_gpu = to_device(table);
    ops::embedding_forward(o_cpu, ids_h, table);
    ops::embedding_forward(o_gpu, ids_d, table_gpu);
    EXPECT_EQ(rel_err(o_gpu, o_cpu), 0.0) << dtype_name(dt);

    // dtable accumulates (+=) into a non-zero gradient; bf16 tolerance: the GPU sums each id's
    // rows in fp32 and rounds once, the CPU rounds after every row.
    const OwnedTensor dout = random_host({T, d}, dt, 73);
    OwnedTensor g_cpu = clone_host(table), g_gpu = to_device(table);
    ops::embedding_backward(g_cpu, dout, ids_h);
    ops::embedding_backward(g_gpu, to_device(dout), ids_d);
    EXPECT_LT(rel_err(g_gpu, g_cpu), dt == DType::BF16 ? 1e-2 : 1e-6) << dtype_name(dt);
  }
  // An id outside the vocabulary is detected on the device and thrown at the next sync.
  std::vector<int32_t> bad = ids;
  bad[100] = static_cast<int32_t>(V);
  OwnedTensor table_gpu({V, d}, DType::BF16, Device::CUDA), out({T, d}, DType::BF16, Device::CUDA);
  ops::embedding_forward(out, to_device(int_tensor(bad)), table_gpu);
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::out_of_range);
  EXPECT_NO_THROW(ops::synchronize(Device::CUDA));  // the flag is cleared
}

TEST(CudaCrossEntropy, Qwen3VocabForwardBackward) {
  WM_REQUIRE_CUDA();
  const int64_t N = 300, V = 151936;
  const OwnedTensor logits = random_host({N, V}, DType::BF16, 81, -8, 8);
  std::mt19937 rng(82);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(V - 1));
  std::vector<int32_t> tg(N);
  for (auto& t : tg) t = tok(rng);
  for (int64_t i = 0; i < N; i += 7) tg[i] = -100;  // ignored rows
  tg[1] = static_cast<int32_t>(V - 1);
  const OwnedTensor targets = int_tensor(tg), targets_d = to_device(targets);
  const OwnedTensor dloss = random_host({N}, DType::F32, 83, 0.0, 1.0);
  const OwnedTensor logits_d = to_device(logits);

  OwnedTensor loss_cpu({N}, DType::F32), lse_cpu({N}, DType::F32);
  OwnedTensor loss_gpu({N}, DType::F32, Device::CUDA), lse_gpu({N}, DType::F32, Device::CUDA);
  ops::cross_entropy_forward(loss_cpu, lse_cpu, logits, targets);
  ops::cross_entropy_forward(loss_gpu, lse_gpu, logits_d, targets_d);
  EXPECT_LT(rel_err(lse_gpu, lse_cpu), 1e-6);
  EXPECT_LT(rel_err(loss_gpu, loss_cpu), 1e-5);
  const std::vector<double> lg = values(loss_gpu);
  EXPECT_EQ(lg[0], 0.0);  // ignored

  // Separate f32 gradient, then in place over the bf16 logits.
  OwnedTensor d_cpu({N, V}, DType::F32), d_gpu({N, V}, DType::F32, Device::CUDA);
  ops::cross_entropy_backward(d_cpu, logits, lse_cpu, targets, dloss);
  ops::cross_entropy_backward(d_gpu, logits_d, to_device(lse_cpu), targets_d, to_device(dloss));
  EXPECT_LT(rel_err(d_gpu, d_cpu), 1e-5);
  OwnedTensor inplace_cpu = clone_host(logits);
  ops::cross_entropy_backward(inplace_cpu, inplace_cpu, lse_cpu, targets, dloss);
  ops::cross_entropy_backward(logits_d, logits_d, to_device(lse_cpu), targets_d, to_device(dloss));
  EXPECT_LT(rel_err(logits_d, inplace_cpu), 4e-3);

  std::vector<int32_t> bad = tg;
  bad[3] = static_cast<int32_t>(V + 5);
  ops::cross_entropy_forward(loss_gpu, lse_gpu, to_device(logits), to_device(int_tensor(bad)));
  EXPECT_THROW(ops::synchronize(Device::CUDA), std::out_of_range);
}

}  // namespace
}  // namespace wm
#endif  // WEMASK_HAVE_CUDA
