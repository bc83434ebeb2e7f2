// The SFT loop: data -> micro-batches (gradient accumulation, loss normalised over the loss tokens
// of the whole global batch) -> grad norm (before clipping) -> NaN/Inf guard -> AdamW on fp32
// master weights -> metrics, eval, atomic checkpoints, resume, export.
//
// Data parallelism (WORLD_SIZE > 1 in the environment, see docs/multi_node.md): each rank reads
// its own rows of every global batch (global = micro x accumulation x ranks); the loss-token count
// is all-reduced so the normalisation stays global; gradients are summed over ranks (dist/
// grad_sync.h, plain or ZeRO-1); loss and grad norm are the same on every rank. Rank 0 alone logs,
// writes metrics, checkpoints (full state, after a barrier of all ranks) and the export, so a
// checkpoint resumes on any number of ranks with the same global batch.
#pragma once
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "model/qwen3.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/sft_config.h"
#include "trainer/dist/dist_context.h"
#include "trainer/dist/grad_sync.h"
#include "trainer/metrics/metrics_log.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/lr_schedule.h"

namespace wm {

struct SftResult {
  int64_t first_step = 0;   // first step run by this call (after a resume: checkpoint step + 1)
  int64_t last_step = 0;    // last step completed
  double first_loss = 0.0;  // training loss of first_step
  double last_loss = 0.0;
  std::filesystem::path last_checkpoint;
};

class SftTrainer {
 public:
  // Validates inputs (files, sizes), builds the model, data, optimizer, and restores a checkpoint
  // when checkpoint.resume asks for one. Nothing is trained yet.
  explicit SftTrainer(SftConfig config);
  ~SftTrainer();

  // Trains up to `stop_after_step` (0: to the end). Stopping early still writes a checkpoint.
  SftResult run(int64_t stop_after_step = 0);

  int64_t total_steps() const { return total_steps_; }
  int64_t completed_steps() const { return state_.step; }
  Qwen3Model& model() { return *model_; }
  const AdamW& optimizer() const { return *optimizer_; }
  const std::filesystem::path& output_dir() const { return out_; }
  const dist::DistContext& dist() const { return *dist_; }

 private:
  void build_model();
  void resolve_wemask();
  void restore(const std::filesystem::path& dir);
  std::filesystem::path save();
  void run_steps(int64_t last, SftResult& result);
  bool is_root() const { return dist_->is_root(); }
  double evaluate();
  std::shared_ptr<const TokenizedDataset> read_dataset(const std::string& path, const std::string& what) const;

  SftConfig cfg_;
  std::filesystem::path out_;
  std::unique_ptr<dist::DistContext> dist_;  // before the model: the GPU is chosen first
  int zero_stage_ = 0;
  int64_t micro_per_rank_ = 1;  // micro-batches per rank and step
  int64_t kill_rank_ = -1;      // debug.kill_rank
  int64_t hang_at_step_ = 0;    // debug.hang_at_step
  bool save_at_end_ = true;     // checkpoint.save_at_end
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Qwen3Model> model_;
  std::shared_ptr<const TokenizedDataset> train_data_, valid_data_;
  std::unique_ptr<DataLoader> loader_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  MetricsLog metrics_;
  TrainerState state_;
  std::mt19937_64 rng_;
  int64_t total_steps_ = 0;
  int32_t pad_id_ = 0;
  std::vector<std::vector<int32_t>> calibration_docs_;
  std::unique_ptr<dist::GradSync> grad_sync_;  // last: it holds the model's callback
};

}  // namespace wm
