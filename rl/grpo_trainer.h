// The GRPO loop. Per step:
//   prompts_per_step prompts (resumable order) -> rollout.n responses each (policy weights, WeMask)
//   -> rewards (reward.terms) -> group advantages -> old log-probs (policy) and reference log-probs
//   (frozen reference model), recomputed once by forward passes -> ppo_epochs x mini-batches of
//   clipped surrogate + KL, aggregated as grpo.loss_agg_mode, with gradient accumulation over
//   micro-batches -> grad clip -> NaN/Inf guard -> AdamW (one update per mini-batch)
//   -> metrics, atomic checkpoints (prompt position and reference identity included), resume.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "data/tokenizer.h"
#include "model/qwen3.h"
#include "rl/grpo_config.h"
#include "rl/grpo_prompts.h"
#include "rl/rewards.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/metrics/metrics_log.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/lr_schedule.h"

namespace wm::rl {

struct GrpoResult {
  int64_t first_step = 0, last_step = 0;
  std::vector<double> reward_mean;  // per step run by this call
  std::vector<double> accuracy;     // per step run by this call
  std::filesystem::path last_checkpoint;
};

class GrpoTrainer {
 public:
  // Validates inputs, builds policy (+ reference) model, prompts, optimizer; restores a checkpoint
  // when checkpoint.resume asks for one. Nothing is trained yet.
  explicit GrpoTrainer(GrpoConfig config);
  ~GrpoTrainer();

  // Trains up to `stop_after_step` (0: to train.max_steps). Stopping early still writes a checkpoint.
  GrpoResult run(int64_t stop_after_step = 0);

  int64_t completed_steps() const { return state_.step; }
  Qwen3Model& policy() { return *policy_; }
  const AdamW& optimizer() const { return *optimizer_; }
  const std::filesystem::path& output_dir() const { return out_; }

 private:
  struct Rollout;
  struct StepLogprobs;
  void build_models();
  void restore(const std::filesystem::path& dir);
  std::filesystem::path save();
  Rollout generate(int64_t step);
  StepLogprobs recompute_logprobs(const Rollout& r);

  GrpoConfig cfg_;
  std::filesystem::path out_;
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Qwen3Model> policy_, reference_;
  nlohmann::json reference_identity_;
  std::vector<GrpoPrompt> prompts_;
  std::unique_ptr<PromptOrder> order_;
  std::unique_ptr<CombinedReward> reward_;
  std::vector<int32_t> stop_ids_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  MetricsLog metrics_;
  TrainerState state_;
  int64_t updates_ = 0, skipped_updates_ = 0;
  int32_t pad_id_ = 0;
};

// A fingerprint of the reference weights' source: model.path (config.json, and the names, sizes,
// first and last MiB of every *.safetensors) or the random-init config and seed.
nlohmann::json reference_identity(const ModelSource& source, const Qwen3Config& config);

}  // namespace wm::rl
