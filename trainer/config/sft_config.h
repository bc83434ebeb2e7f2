// The typed view of a resolved `wemask train` config, after cross-key checks.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"
#include "trainer/config/resolve.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/lr_schedule.h"

namespace wm {

struct WeMaskOptions {
  bool enabled = false;
  std::optional<int64_t> me_layer;   // nullopt: auto (detector)
  std::string layers_mode;           // "from_me" | "me_only" | "" (explicit list)
  std::vector<int64_t> layers;       // explicit list
  double mask_rate = 0.01;
  double gamma = 1.0;
  std::string select = "activation"; // activation | norm_weight
  std::string tokens = "first_of_each_document";

  // The masked layers of a model with `num_layers` layers given the ME layer; throws naming the
  // key when a layer is out of range.
  std::vector<int64_t> resolve_layers(int64_t me_layer_index, int64_t num_layers) const;
};

// Sections shared with other trainers (rl/grpo_config): each reads its keys of a resolved config
// whose schema has the same keys as the train schema's model.*, wemask.*, optim.* and schedule.*.
struct ModelSource {
  std::string path;                        // empty: random init
  std::optional<Qwen3Config> random_init;  // set when path is empty
  int64_t init_seed = 0;
};
ModelSource read_model_keys(const config::ResolvedConfig& r);
WeMaskOptions read_wemask_keys(const config::ResolvedConfig& r, const std::optional<Qwen3Config>& random_init);
// Fills lr, optim and schedule (schedule.peak_lr = lr).
void read_optim_keys(const config::ResolvedConfig& r, double& lr, OptimizerOptions& optim, ScheduleOptions& schedule);

struct SftConfig {
  config::ResolvedConfig resolved;

  // model
  std::string model_path;                  // empty: random init
  std::optional<Qwen3Config> random_init;  // set when model_path is empty
  int64_t init_seed = 0;
  // data
  std::string train_file, valid_file, tokenizer_dir;
  std::string format = "prompt_response", loss_mask = "assistant", ids_key = "input_ids";
  std::string prompt_key, response_key;
  int64_t max_length = 4096;
  int64_t max_examples = 0;
  bool shuffle = true, pack = true;
  // train
  int64_t micro_batch_size = 1, global_batch_size = 64;
  int64_t grad_accum_steps() const { return global_batch_size / micro_batch_size; }
  double epochs = 1;
  int64_t max_steps = 0;
  double grad_clip = 1.0;
  std::string precision = "bf16", device = "auto", on_nonfinite = "error";
  bool recompute = false;
  bool recompute_mlp_only = false;  // train.recompute_scope: mlp
  int64_t seed = 1234, threads = 0;
  // optimizer and schedule
  double lr = 2e-5;
  OptimizerOptions optim;
  ScheduleOptions schedule;
  // eval, checkpoints, output
  int64_t eval_every = 0, eval_max_batches = 0;
  int64_t checkpoint_every = 0, keep_last = 3;
  std::string resume = "none";
  bool export_at_end = true;
  std::string output_dir;
  WeMaskOptions wemask;
  // logging
  std::string log_level = "info", metrics_file;
  int64_t log_every = 1;
  int64_t inject_nan_at_step = 0;
  int64_t kill_at_step = 0;

  // Resolves the file + overrides and checks cross-key rules. Does not touch the filesystem.
  static SftConfig load(const std::string& path, std::span<const std::string> overrides = {});
  static SftConfig from_text(const std::string& yaml, std::span<const std::string> overrides = {});
  static SftConfig from_resolved(config::ResolvedConfig resolved);

  // Throws ConfigError listing every missing input file/dir (before any work starts).
  void check_files() const;
};

}  // namespace wm
