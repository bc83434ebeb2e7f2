#include "trainer/commands.h"

#include <cstdio>

#include "kernels/backend.h"

namespace wm {

int cmd_version(std::span<const std::string>) {
  std::printf("wemask 0.1.0 (CUDA backend: %s)\n",
#ifdef WEMASK_HAVE_CUDA
              cuda_available() ? "built, GPU present" : "built, no GPU present"
#else
              "not built"
#endif
  );
  return 0;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"version", "print the version and the backends available", cmd_version},
      {"tokenize", "encode text or JSONL with a model folder's tokenizer, print ids", cmd_tokenize},
      {"score", "log-probabilities of token sequences (JSONL) under a model", cmd_score},
      {"export", "write a Hugging Face folder (config, safetensors, tokenizer)", cmd_export},
      {"plot", "render loss / lr / grad-norm curves of a metrics JSONL to an SVG", cmd_plot},
      {"train", "supervised fine-tuning from a YAML config (wemask train CONFIG.yaml --set k=v)", cmd_train},
      {"analyze", "massive-activation analysis: ME layer, massive dims, report + figures", cmd_analyze},
      {"eval", "GSM8K / MATH-500 accuracy of a model folder (greedy or sampled; --set wemask.*)", cmd_eval},
      {"grpo", "GRPO reinforcement learning with rule-based rewards (wemask grpo CONFIG.yaml --set k=v)", cmd_grpo},
      {"generate", "generate text from a model folder with the KV-cache engine (--prompt / --prompts, --chat)", cmd_generate},
  };
  return table;
}

}  // namespace wm
