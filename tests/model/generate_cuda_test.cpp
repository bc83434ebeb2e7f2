// The rollout engine on CUDA against the same model on the CPU (skipped without a GPU).
// The CUDA attention kernels round f32 inputs to bf16, so tokens are not required to be equal
// bit for bit: every CUDA greedy token must be the CPU argmax or within 0.05 of it, and the CUDA
// log-probs must match the CPU forward log-probs of the CUDA tokens. bf16: finite log-probs close
// to the f32 CPU ones, and reproducible runs. CUDA-graph replay gives the eager tokens exactly.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/backend.h"
#include "model/generate.h"
#include "model/host_io.h"
#include "tests/model/model_test_util.h"

namespace wm::test {
namespace {

std::unique_ptr<Qwen3Model> model_on(Device device, DType dtype, bool wemask) {
  const Qwen3Config cfg = tiny_config(false);
  ParamStore init(cfg, DType::F32, Device::CPU);
  init_random(init, 17);
  ModelOptions o;
  o.device = device;
  o.dtype = dtype;
  o.max_tokens = 256;
  o.inference_only = true;
  if (wemask) o.wemask = WeMaskSpec{true, {1}, 0.125, 1.0, WeMaskSelect::Activation};
  auto m = std::make_unique<Qwen3Model>(cfg, o);
  m->params().load(init.params(), "init");
  return m;
}

// Every prompt starts with the same token (as chat prompts start with <|im_start|>): with WeMask on,
// the engine selects the masked dims from all prompts' first tokens while the CPU reference below
// runs one sequence at a time, and a shared first token makes both selections the same.
std::vector<std::vector<int32_t>> prompts() {
  std::vector<std::vector<int32_t>> p;
  std::mt19937 rng(4);
  for (int n : {3, 40, 1, 17, 9}) {
    std::vector<int32_t> doc(n);
    for (auto& t : doc) t = static_cast<int32_t>(rng() % 64);
    doc[0] = 4;
    p.push_back(doc);
  }
  return p;
}

// CPU logits of every position of prompt + generated tokens.
std::vector<std::vector<double>> cpu_rows(Qwen3Model& cpu, const std::vector<int32_t>& prompt,
                                          const std::vector<int32_t>& gen) {
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), gen.begin(), gen.end());
  const int64_t T = static_cast<int64_t>(seq.size()), V = cpu.config().vocab_size;
  OwnedTensor logits({T, V}, DType::F32);
  cpu.forward_logits(Batch(pack_documents({{seq}}, T), Device::CPU), logits.t());
  std::vector<std::vector<double>> rows;
  for (int64_t t = 0; t < T; ++t) rows.push_back(to_host_f64(logits.t().slice(t, t + 1)));
  return rows;
}

TEST(GenerateCuda, GreedyAgreesWithCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  for (bool wemask : {false, true}) {
    auto gpu = model_on(Device::CUDA, DType::F32, wemask);
    auto cpu = model_on(Device::CPU, DType::F32, wemask);
    SamplingOptions o;
    o.max_new_tokens = 24;
    o.temperature = 0.0;
    const auto ps = prompts();
    const auto gens = generate(*gpu, ps, o);
    for (size_t i = 0; i < ps.size(); ++i) {
      ASSERT_EQ(gens[i].tokens.size(), 24u);
      const auto rows = cpu_rows(*cpu, ps[i], gens[i].tokens);
      for (size_t j = 0; j < gens[i].tokens.size(); ++j) {
        const auto& row = rows[ps[i].size() - 1 + j];
        const double mx = *std::max_element(row.begin(), row.end());
        double z = 0;
        for (double x : row) z += std::exp(x - mx);
        const int32_t tok = gens[i].tokens[j];
        EXPECT_GT(row[tok], mx - 0.05) << "wemask " << wemask << " prompt " << i << " token " << j;
        EXPECT_NEAR(gens[i].logprobs[j], row[tok] - mx - std::log(z), 2e-2) << "prompt " << i << " token " << j;
      }
    }
  }
}

TEST(GenerateCuda, Bf16SamplingIsReproducibleAndClose) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  auto gpu = model_on(Device::CUDA, DType::BF16, true);
  auto cpu = model_on(Device::CPU, DType::F32, true);
  SamplingOptions o;
  o.max_new_tokens = 16;
  o.temperature = 1.0;
  o.seed = 8;
  const auto ps = prompts();
  const auto a = generate(*gpu, ps, o), b = generate(*gpu, ps, o);
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    const auto rows = cpu_rows(*cpu, ps[i], a[i].tokens);
    for (size_t j = 0; j < a[i].tokens.size(); ++j) {
      const auto& row = rows[ps[i].size() - 1 + j];
      const double mx = *std::max_element(row.begin(), row.end());
      double z = 0;
      for (double x : row) z += std::exp(x - mx);
      EXPECT_NEAR(a[i].logprobs[j], row[a[i].tokens[j]] - mx - std::log(z), 0.15) << "prompt " << i << " token " << j;
    }
  }
}

TEST(GenerateCuda, GraphReplayGivesTheSameTokens) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  for (DType dtype : {DType::BF16, DType::F32}) {
    auto gpu = model_on(Device::CUDA, dtype, true);
    SamplingOptions o;
    o.max_new_tokens = 20;
    o.temperature = 1.0;
    o.seed = 21;
    const auto ps = prompts();
    const auto free_run = generate(*gpu, ps, o);
    o.stop_ids = {free_run[0].tokens[3], free_run[2].tokens[7]};  // the decode batch shrinks: new recordings
    for (int64_t slots : {0, 2}) {  // (batch composition changes cuBLAS's row results: compare like with like)
      EngineOptions engine;
      engine.max_sequences = slots;
      engine.cuda_graphs = false;
      const auto eager = generate(*gpu, ps, o, engine);
      engine.cuda_graphs = true;
      const auto replayed = generate(*gpu, ps, o, engine);
      for (size_t i = 0; i < ps.size(); ++i) {
        EXPECT_EQ(replayed[i].tokens, eager[i].tokens) << dtype_name(dtype) << " slots " << slots << " prompt " << i;
        EXPECT_EQ(replayed[i].logprobs, eager[i].logprobs);
      }
    }
  }
}

}  // namespace
}  // namespace wm::test
