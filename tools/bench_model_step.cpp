// Training-step throughput of Qwen3Model on one GPU: random weights (bf16), B x S tokens of one
// document per row, forward_backward timed after warm-up (no optimizer step). Prints one JSON line
// per setting. H100 (2026-11-22): 0.6B 8x2048 66.2k tok/s (recompute 54.5k), 1.7B 4x2048 39.0k,
// 4B 2x2048 + recompute 13.7k. Run through WEMASK_BENCH=... tools/gpu_model_test.sh.
//   bench_model_step [0.6B|1.7B|4B] [B] [S] [recompute 0|1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/ops.h"
#include "model/qwen3.h"

using namespace wm;

namespace {

Qwen3Config shape(const std::string& name) {
  Qwen3Config c;  // defaults are Qwen3-0.6B's
  c.vocab_size = 151936;
  c.head_dim = 128;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 8;
  if (name == "0.6B") { c.hidden_size = 1024; c.intermediate_size = 3072; c.num_hidden_layers = 28; }
  else if (name == "1.7B") { c.hidden_size = 2048; c.intermediate_size = 6144; c.num_hidden_layers = 28; }
  else if (name == "4B") { c.hidden_size = 2560; c.intermediate_size = 9728; c.num_hidden_layers = 36; c.num_attention_heads = 32; }
  else { std::fprintf(stderr, "unknown size %s\n", name.c_str()); std::exit(2); }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string size = argc > 1 ? argv[1] : "0.6B";
  const int64_t B = argc > 2 ? std::atoll(argv[2]) : 4, S = argc > 3 ? std::atoll(argv[3]) : 2048;
  const bool recompute = argc > 4 && std::atoi(argv[4]) != 0;
  const Qwen3Config cfg = shape(size);
  ModelOptions opt;
  opt.device = Device::CUDA;
  opt.dtype = DType::BF16;
  opt.recompute = recompute;
  opt.max_tokens = B * S;
  opt.loss_chunk = 2048;
  Qwen3Model model(cfg, opt);
  {  // random weights: uniform(-0.02, 0.02), norms 1 (filled on the host in f32, converted)
    ParamStore host(cfg, DType::F32, Device::CPU);
    uint64_t state = 12345;
    for (size_t i = 0; i < host.specs().size(); ++i) {
      float* p = host.param(i).ptr<float>();
      const bool norm = host.specs()[i].kind == ParamKind::Norm;
      for (int64_t j = 0; j < host.param(i).numel(); ++j) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        p[j] = norm ? 1.0f : (static_cast<float>(state >> 40) / 16777216.0f - 0.5f) * 0.04f;
      }
    }
    model.params().load(host.params(), "random");
  }
  std::vector<std::vector<std::vector<int32_t>>> rows(B);
  uint64_t s = 7;
  for (auto& r : rows) {
    std::vector<int32_t> doc(S);
    for (auto& t : doc) { s = s * 6364136223846793005ULL + 1; t = static_cast<int32_t>((s >> 33) % cfg.vocab_size); }
    r.push_back(doc);
  }
  Batch batch(pack_documents(rows, S), Device::CUDA);
  auto step = [&] {
    model.params().zero_grad();
    return model.forward_backward(batch);
  };
  for (int i = 0; i < 2; ++i) step();
  ops::synchronize(Device::CUDA);
  const int steps = 5;
  const auto t0 = std::chrono::steady_clock::now();
  double loss = 0;
  for (int i = 0; i < steps; ++i) loss = step();
  ops::synchronize(Device::CUDA);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  const double tokens = static_cast<double>(B * S) / dt;
  const double flops_per_token = 6.0 * static_cast<double>(cfg.matmul_params()) +
                                 12.0 * cfg.num_hidden_layers * cfg.q_dim() * static_cast<double>(S);
  std::printf("{\"kind\":\"wemask_train_step_bf16\",\"model\":\"%s\",\"bsz\":%lld,\"seq\":%lld,\"recompute\":%s,"
              "\"step_s\":%.4f,\"tokens_per_s\":%.0f,\"mfu\":%.4f,\"activation_gib\":%.2f,\"loss\":%.3f}\n",
              size.c_str(), static_cast<long long>(B), static_cast<long long>(S), recompute ? "true" : "false", dt,
              tokens, tokens * flops_per_token / 989e12, model.activation_bytes() / 1073741824.0, loss);
  return 0;
}
