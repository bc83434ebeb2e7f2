// The schema of `wemask grpo` configs: the SFT schema's shared sections (model, optim, schedule,
// checkpoint, wemask, logging, debug and part of train) plus data / rollout / grpo / reward keys.
#include <algorithm>
#include <map>

#include "rl/grpo_config.h"
#include "trainer/config/train_schema.h"

// KeySpecs below use designated initializers; the members they leave out keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace wm::rl {

namespace {

using config::KeySpec;
using config::PathCheck;
using VT = config::ValueType;
using V = config::ConfigValue;
constexpr double kBig = 1e18;

// Keys GRPO implements exactly as SFT does (new SFT-only keys stay out until GRPO supports them).
bool shared_with_sft(const std::string& path) {
  static const char* prefixes[] = {"model.", "optim.", "schedule.", "wemask.", "logging."};
  static const char* keys[] = {"output_dir",          "train.max_steps",          "train.grad_clip",
                               "train.precision",     "train.recompute",          "train.seed",
                               "train.device",        "train.on_nonfinite",       "train.threads",
                               "checkpoint.every_steps", "checkpoint.keep_last",  "checkpoint.resume",
                               "checkpoint.export_at_end", "debug.inject_nan_at_step", "debug.kill_at_step"};
  for (const char* p : prefixes)
    if (path.rfind(p, 0) == 0) return true;
  return std::find(std::begin(keys), std::end(keys), path) != std::end(keys);
}

std::vector<KeySpec> grpo_keys() {
  // GRPO defaults that differ from SFT's.
  const std::map<std::string, V> defaults = {
      {"optim.lr", V{1e-6}},
      {"schedule.type", V{std::string("constant")}},
      {"output_dir", V{std::string("out/grpo")}},
      {"train.max_steps", V{int64_t{100}}},
  };
  std::vector<KeySpec> k;
  for (KeySpec spec : config::sft_schema().keys()) {
    if (!shared_with_sft(spec.path)) continue;
    if (auto it = defaults.find(spec.path); it != defaults.end()) spec.default_value = it->second;
    if (spec.path == "train.max_steps") spec.doc = "GRPO steps (each: rollouts of prompts_per_step prompts, then updates)";
    k.push_back(std::move(spec));
  }
  auto add = [&](KeySpec s) { k.push_back(std::move(s)); };
  auto s = [](const char* x) { return V{std::string(x)}; };
  // ---- data
  add({.path = "data.train_file", .type = VT::String, .doc = "prompt JSONL (required)",
       .path_check = PathCheck::ExistingFile});
  add({.path = "data.tokenizer", .type = VT::String,
       .doc = "folder with tokenizer.json + tokenizer_config.json (default: model.path; optional for format tokens)",
       .path_check = PathCheck::ExistingDir});
  add({.path = "data.format", .type = VT::Enum, .default_value = s("chat"),
       .doc = "chat: prompt_key text through the chat template; tokens: ids_key holds the prompt ids",
       .choices = {"chat", "tokens"}});
  add({.path = "data.prompt_key", .type = VT::String, .default_value = s("question"), .doc = "JSONL field of the prompt"});
  add({.path = "data.answer_key", .type = VT::String, .default_value = s("answer"),
       .doc = "JSONL field of the reference answer (string or number)"});
  add({.path = "data.ids_key", .type = VT::String, .default_value = s("prompt_ids"),
       .doc = "format tokens: JSONL field with the prompt's token ids"});
  add({.path = "data.system_prompt", .type = VT::String, .default_value = s(""), .doc = "chat: system message ('' : none)"});
  add({.path = "data.instruction", .type = VT::String, .default_value = s(""),
       .doc = "chat: text appended to each prompt after a blank line (e.g. a \\boxed{} request)"});
  add({.path = "data.enable_thinking", .type = VT::Bool, .default_value = V{false},
       .doc = "chat: false adds the empty <think></think> block of Qwen3's template"});
  add({.path = "data.max_prompt_length", .type = VT::Int, .default_value = V{int64_t{512}},
       .doc = "longer prompts are dropped at load (counted in the log)", .min = 1, .max = 1 << 20});
  add({.path = "data.max_examples", .type = VT::Int, .default_value = V{int64_t{0}},
       .doc = "use only the first N prompts (0: all)", .min = 0, .max = kBig});
  add({.path = "data.shuffle", .type = VT::Bool, .default_value = V{true}, .doc = "shuffle prompts each epoch (train.seed)"});
  // ---- rollout
  add({.path = "rollout.n", .type = VT::Int, .default_value = V{int64_t{4}}, .doc = "responses sampled per prompt (group size)",
       .min = 2, .max = 4096});
  add({.path = "rollout.max_response_length", .type = VT::Int, .default_value = V{int64_t{256}},
       .doc = "new tokens per response at most", .min = 1, .max = 1 << 20});
  add({.path = "rollout.temperature", .type = VT::Float, .default_value = V{1.0}, .doc = "sampling temperature (> 0)",
       .min = 1e-6, .max = 100});
  add({.path = "rollout.top_p", .type = VT::Float, .default_value = V{1.0}, .doc = "nucleus sampling mass", .min = 1e-6,
       .max = 1});
  add({.path = "rollout.top_k", .type = VT::Int, .default_value = V{int64_t{0}}, .doc = "top-k sampling (0: off)",
       .min = 0, .max = 1 << 30});
  add({.path = "rollout.stop_ids", .type = VT::IntListOrEnum, .default_value = s("auto"),
       .doc = "ids that end a response, or auto (<|im_end|>, <|endoftext|> of the tokenizer)", .min = 0,
       .max = 1 << 30, .choices = {"auto"}});
  // ---- grpo
  add({.path = "grpo.prompts_per_step", .type = VT::Int, .default_value = V{int64_t{256}},
       .doc = "prompts per step (rollout batch = prompts_per_step * rollout.n responses)", .min = 1, .max = 1 << 24});
  add({.path = "grpo.mini_batch_size", .type = VT::Int, .default_value = V{int64_t{64}},
       .doc = "prompts per optimizer update (their n responses each); divides prompts_per_step", .min = 1,
       .max = 1 << 24});
  add({.path = "grpo.micro_batch_size", .type = VT::Int, .default_value = V{int64_t{8}},
       .doc = "sequences per forward/backward (gradient accumulation inside a mini-batch)", .min = 1, .max = 1 << 20});
  add({.path = "grpo.ppo_epochs", .type = VT::Int, .default_value = V{int64_t{1}},
       .doc = "passes over the rollout batch per step", .min = 1, .max = 1000});
  add({.path = "grpo.scale_rewards", .type = VT::Bool, .default_value = V{true},
       .doc = "divide advantages by the group std (false: Dr. GRPO)"});
  add({.path = "grpo.clip_low", .type = VT::Float, .default_value = V{0.2}, .doc = "ratio clipped below at 1 - clip_low",
       .min = 0, .max = 1});
  add({.path = "grpo.clip_high", .type = VT::Float, .default_value = V{0.2},
       .doc = "ratio clipped above at 1 + clip_high (DAPO clip-higher: 0.28)", .min = 0, .max = 10});
  add({.path = "grpo.kl_coef", .type = VT::Float, .default_value = V{0.001},
       .doc = "KL penalty to the reference model (0: no reference model is built)", .min = 0, .max = 100});
  add({.path = "grpo.kl_estimator", .type = VT::Enum, .default_value = s("low_var_kl"),
       .doc = "k1 | k2 | k3 | low_var_kl (= k3, clamped at 10)", .choices = {"k1", "k2", "k3", "low_var_kl"}});
  add({.path = "grpo.loss_agg_mode", .type = VT::Enum, .default_value = s("token-mean"),
       .doc = "token-mean | seq-mean-token-mean | seq-mean-token-sum-norm",
       .choices = {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"}});
  add({.path = "grpo.norm_length", .type = VT::Int, .default_value = V{int64_t{0}},
       .doc = "seq-mean-token-sum-norm divisor (0: rollout.max_response_length)", .min = 0, .max = 1 << 20});
  add({.path = "grpo.reference_wemask", .type = VT::Bool, .default_value = V{true},
       .doc = "the reference model applies the same WeMask as the policy (KL measures training drift only)"});
  // ---- reward
  add({.path = "reward.terms", .type = VT::String, .default_value = s("gsm8k"),
       .doc = "weighted sum of registered rewards, e.g. 'gsm8k + 0.1*format' (first term: accuracy)"});
  return k;
}

}  // namespace

const config::Schema& grpo_schema() {
  static const config::Schema schema(grpo_keys());
  return schema;
}

}  // namespace wm::rl
