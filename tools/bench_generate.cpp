// Rollout-engine throughput on one GPU: a random-weight Qwen3 model of a real shape (bf16), B
// prompts of P random tokens, exactly N new tokens each (no stop ids), sampled at temperature 1
// (or greedy). Prints one JSON line: prefill time, total time, generated tokens per second.
//   bench_generate [0.6B|1.7B|4B] [B=64] [P=256] [N=256] [temperature=1] [wemask_from_layer=-1] [cuda_graphs=0]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model/generate.h"

using namespace wm;

namespace {

Qwen3Config shape(const std::string& name) {
  Qwen3Config c;  // defaults are Qwen3-0.6B's
  if (name == "0.6B") { c.hidden_size = 1024; c.intermediate_size = 3072; c.num_hidden_layers = 28; }
  else if (name == "1.7B") { c.hidden_size = 2048; c.intermediate_size = 6144; c.num_hidden_layers = 28; }
  else if (name == "4B") { c.hidden_size = 2560; c.intermediate_size = 9728; c.num_hidden_layers = 36; c.num_attention_heads = 32; c.tie_word_embeddings = true; }
  else { std::fprintf(stderr, "unknown size %s\n", name.c_str()); std::exit(2); }
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string size = argc > 1 ? argv[1] : "0.6B";
  const int64_t B = argc > 2 ? std::atoll(argv[2]) : 64, P = argc > 3 ? std::atoll(argv[3]) : 256;
  const int64_t N = argc > 4 ? std::atoll(argv[4]) : 256;
  const double temperature = argc > 5 ? std::atof(argv[5]) : 1.0;
  const int wemask_from = argc > 6 ? std::atoi(argv[6]) : -1;
  const bool graphs = argc > 7 && std::atoi(argv[7]) != 0;
  if (!cuda_available()) { std::fprintf(stderr, "bench_generate: no CUDA GPU\n"); return 2; }
  const Qwen3Config cfg = shape(size);
  ModelOptions opt;
  opt.device = Device::CUDA;
  opt.dtype = DType::BF16;
  opt.inference_only = true;
  opt.max_tokens = 4096;  // prefill chunk size
  opt.loss_chunk = 256;
  if (wemask_from >= 0) {
    opt.wemask.enabled = true;
    for (int l = wemask_from; l < cfg.num_hidden_layers; ++l) opt.wemask.layers.push_back(l);
    opt.wemask.mask_rate = 0.01;
    opt.wemask.gamma = 1.0;
  }
  Qwen3Model model(cfg, opt);
  {  // random weights: uniform with std 0.02 (as HF's N(0, 0.02) init), norms 1; f32 on the host
    ParamStore host(cfg, DType::F32, Device::CPU);
    uint64_t state = 1234;
    for (size_t i = 0; i < host.specs().size(); ++i) {
      float* p = host.param(i).ptr<float>();
      const bool norm = host.specs()[i].kind == ParamKind::Norm;
      for (int64_t j = 0; j < host.param(i).numel(); ++j) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        p[j] = norm ? 1.0f : (static_cast<float>(state >> 40) / 16777216.0f - 0.5f) * 0.0693f;
      }
    }
    model.params().load(host.params(), "random");
  }
  std::vector<std::vector<int32_t>> prompts(B, std::vector<int32_t>(P));
  std::mt19937 rng(7);
  for (auto& p : prompts)
    for (auto& t : p) t = static_cast<int32_t>(rng() % cfg.vocab_size);

  SamplingOptions so;
  so.temperature = temperature;
  so.seed = 1;
  so.max_new_tokens = 8;
  EngineOptions engine;
  engine.cuda_graphs = graphs;
  generate(model, prompts, so, engine);  // warm-up (cuBLAS heuristics, allocations)
  ops::synchronize(Device::CUDA);

  so.max_new_tokens = 1;  // prefill + one sampled token
  auto t0 = std::chrono::steady_clock::now();
  generate(model, prompts, so, engine);
  ops::synchronize(Device::CUDA);
  const double prefill_s = seconds_since(t0);

  so.max_new_tokens = N;
  GenerationStats stats;
  engine.stats = &stats;
  t0 = std::chrono::steady_clock::now();
  const auto gens = generate(model, prompts, so, engine);
  ops::synchronize(Device::CUDA);
  const double total_s = seconds_since(t0);
  int64_t generated = 0;
  double logprob_sum = 0.0;
  for (const auto& g : gens) {
    generated += static_cast<int64_t>(g.tokens.size());
    for (float lp : g.logprobs) logprob_sum += lp;
  }
  std::printf(
      "{\"size\":\"%s\",\"cuda_graphs\":%d,\"batch\":%lld,\"prompt\":%lld,\"new\":%lld,\"temperature\":%g,\"wemask_from\":%d,"
      "\"generated\":%lld,\"prefill_s\":%.4f,\"total_s\":%.4f,\"tokens_per_s\":%.1f,"
      "\"decode_tokens_per_s\":%.1f,\"mean_logprob\":%.3f,\"engine_prefill_s\":%.4f,\"engine_decode_s\":%.4f,"
      "\"decode_steps\":%lld,\"decode_ms_per_step\":%.3f,\"decode_enqueue_ms_per_step\":%.3f}\n",
      size.c_str(), graphs ? 1 : 0, static_cast<long long>(B), static_cast<long long>(P), static_cast<long long>(N), temperature,
      wemask_from, static_cast<long long>(generated), prefill_s, total_s, generated / total_s,
      (generated - B) / std::max(total_s - prefill_s, 1e-9), logprob_sum / std::max<int64_t>(generated, 1),
      stats.prefill_s, stats.decode_s, static_cast<long long>(stats.decode_steps),
      1e3 * stats.decode_s / std::max<int64_t>(stats.decode_steps, 1),
      1e3 * stats.decode_enqueue_s / std::max<int64_t>(stats.decode_steps, 1));
  return generated == B * N ? 0 : 1;
}
