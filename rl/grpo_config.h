// The typed view of a resolved `wemask grpo` config (schema: rl/grpo_schema.cpp), after cross-key
// checks. model.*, optim.*, schedule.*, wemask.*, checkpoint.*, logging.* and the shared train.*
// keys are the SFT schema's (trainer/config/train_schema.cpp) with GRPO defaults.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"
#include "rl/policy_loss.h"
#include "rl/rewards.h"
#include "trainer/config/resolve.h"
#include "trainer/config/sft_config.h"

namespace wm::rl {

const config::Schema& grpo_schema();

// "gsm8k + 0.1*format" -> [{gsm8k, 1}, {format, 0.1}]. Throws config::ConfigError naming `key`
// for a bad expression or an unknown reward name (with the nearest known one).
std::vector<RewardTerm> parse_reward_terms(const std::string& text, const std::string& key);

struct GrpoConfig {
  config::ResolvedConfig resolved;

  // model
  ModelSource model;
  // data
  std::string train_file, tokenizer_dir;
  std::string format = "chat";  // chat (question -> chat template) | tokens (prompt ids given)
  std::string prompt_key, answer_key, ids_key;
  std::string system_prompt, instruction;
  bool enable_thinking = false, shuffle = true;
  int64_t max_prompt_length = 512, max_examples = 0;
  // rollout
  int64_t n = 4, max_response_length = 256, top_k = 0;
  double temperature = 1.0, top_p = 1.0;
  std::vector<int64_t> stop_ids;  // empty: <|im_end|> and <|endoftext|> of the tokenizer
  // grpo
  int64_t prompts_per_step = 256, mini_batch_size = 64, micro_batch_size = 8, ppo_epochs = 1;
  bool scale_rewards = true, reference_wemask = true;
  PolicyLossOptions loss;  // clip, KL, aggregation (norm_length resolved: > 0)
  std::vector<RewardTerm> reward;
  // train
  int64_t max_steps = 0;
  double grad_clip = 1.0;
  std::string precision = "bf16", device = "auto", on_nonfinite = "error";
  bool recompute = false;
  int64_t seed = 1234, threads = 0;
  double lr = 1e-6;
  OptimizerOptions optim;
  ScheduleOptions schedule;
  // checkpoints, output
  int64_t checkpoint_every = 0, keep_last = 3;
  std::string resume = "none";
  bool export_at_end = true;
  std::string output_dir;
  WeMaskOptions wemask;
  // logging and test hooks
  std::string log_level = "info", metrics_file;
  int64_t log_every = 1, inject_nan_at_step = 0, kill_at_step = 0;

  int64_t sequences_per_step() const { return prompts_per_step * n; }
  int64_t mini_batches_per_step() const { return prompts_per_step / mini_batch_size; }
  int64_t max_sequence_length() const { return max_prompt_length + max_response_length; }

  static GrpoConfig load(const std::string& path, std::span<const std::string> overrides = {});
  static GrpoConfig from_text(const std::string& yaml, std::span<const std::string> overrides = {});
  static GrpoConfig from_resolved(config::ResolvedConfig resolved);

  // Throws config::ConfigError listing every missing input file/dir (before any work starts).
  void check_files() const;
};

}  // namespace wm::rl
