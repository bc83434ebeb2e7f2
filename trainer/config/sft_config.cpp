#include "trainer/config/sft_config.h"

#include <filesystem>

#include <fmt/format.h>

#include "trainer/config/train_schema.h"

namespace wm {

using config::ConfigError;

std::vector<int64_t> WeMaskOptions::resolve_layers(int64_t me, int64_t num_layers) const {
  if (me < 0 || me >= num_layers)
    throw ConfigError(fmt::format("key 'wemask.me_layer': value {} is out of range [0, {}] for this model",
                                  me, num_layers - 1));
  std::vector<int64_t> out;
  if (layers_mode == "from_me") {
    for (int64_t l = me; l < num_layers; ++l) out.push_back(l);
  } else if (layers_mode == "me_only") {
    out.push_back(me);
  } else {
    for (int64_t l : layers) {
      if (l < 0 || l >= num_layers)
        throw ConfigError(fmt::format("key 'wemask.layers': layer {} is out of range [0, {}] for this model",
                                      l, num_layers - 1));
      out.push_back(l);
    }
  }
  return out;
}

namespace {

Qwen3Config random_init_config(const config::ResolvedConfig& r) {
  const char* required[] = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "num_key_value_heads", "head_dim"};
  for (const char* k : required)
    if (!r.is_set(std::string("model.config.") + k))
      throw ConfigError(fmt::format("key 'model.config.{}' is required when model.path is not set "
                                    "(random init)", k));
  Qwen3Config c;
  c.vocab_size = r.get_int("model.config.vocab_size");
  c.hidden_size = r.get_int("model.config.hidden_size");
  c.intermediate_size = r.get_int("model.config.intermediate_size");
  c.num_hidden_layers = r.get_int("model.config.num_hidden_layers");
  c.num_attention_heads = r.get_int("model.config.num_attention_heads");
  c.num_key_value_heads = r.get_int("model.config.num_key_value_heads");
  c.head_dim = r.get_int("model.config.head_dim");
  c.max_position_embeddings = r.get_int("model.config.max_position_embeddings");
  c.rope_theta = r.get_float("model.config.rope_theta");
  c.rms_norm_eps = r.get_float("model.config.rms_norm_eps");
  c.tie_word_embeddings = r.get_bool("model.config.tie_word_embeddings");
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw ConfigError(fmt::format("key 'model.config.num_attention_heads': {} is not a multiple of "
                                  "num_key_value_heads {}", c.num_attention_heads, c.num_key_value_heads));
  return c;
}

bool any_model_config_key_set(const config::ResolvedConfig& r) {
  const char* keys[] = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "num_key_value_heads", "head_dim"};
  for (const char* k : keys)
    if (r.is_set(std::string("model.config.") + k)) return true;
  return false;
}

}  // namespace

ModelSource read_model_keys(const config::ResolvedConfig& r) {
  ModelSource m;
  if (r.is_set("model.path")) {
    m.path = r.get_string("model.path");
    if (any_model_config_key_set(r))
      throw ConfigError("keys 'model.path' and 'model.config' are exclusive: set one (load) or the other "
                        "(random init)");
  } else {
    if (!any_model_config_key_set(r))
      throw ConfigError("key 'model.path' is not set: give an HF model folder, or 'model.config' for a "
                        "random init");
    m.random_init = random_init_config(r);
  }
  m.init_seed = r.get_int("model.init_seed");
  return m;
}

void read_optim_keys(const config::ResolvedConfig& r, double& lr, OptimizerOptions& optim, ScheduleOptions& schedule) {
  lr = r.get_float("optim.lr");
  auto betas = r.get_float_list("optim.betas");
  optim.beta1 = betas[0];
  optim.beta2 = betas[1];
  optim.eps = r.get_float("optim.eps");
  optim.weight_decay = r.get_float("optim.weight_decay");
  optim.no_decay_norms_and_embeddings = r.get_bool("optim.no_decay_norms_and_embeddings");
  schedule.kind = parse_schedule_kind(r.get_string("schedule.type"));
  schedule.peak_lr = lr;
  schedule.min_lr = r.get_float("schedule.min_lr");
  if (schedule.min_lr > lr)
    throw ConfigError(fmt::format("key 'schedule.min_lr': value {} is larger than optim.lr {}", schedule.min_lr, lr));
  schedule.warmup_steps = r.get_int("schedule.warmup_steps");
  schedule.warmup_ratio = r.get_float("schedule.warmup_ratio");
}

WeMaskOptions read_wemask_keys(const config::ResolvedConfig& r, const std::optional<Qwen3Config>& random_init) {
  WeMaskOptions w;
  w.enabled = r.get_bool("wemask.enabled");
  if (r.get_choice("wemask.me_layer").empty()) w.me_layer = r.get_int("wemask.me_layer");
  w.layers_mode = r.get_choice("wemask.layers");
  if (w.layers_mode.empty()) w.layers = r.get_int_list("wemask.layers");
  w.mask_rate = r.get_float("wemask.mask_rate");
  w.gamma = r.get_float("wemask.gamma");
  w.select = r.get_string("wemask.select");
  w.tokens = r.get_string("wemask.tokens");
  if (random_init && w.enabled) {
    const int64_t layers = random_init->num_hidden_layers;
    if (w.me_layer && *w.me_layer >= layers)
      throw ConfigError(fmt::format("key 'wemask.me_layer': value {} is out of range [0, {}]", *w.me_layer, layers - 1));
    for (auto l : w.layers)
      if (l >= layers)
        throw ConfigError(fmt::format("key 'wemask.layers': layer {} is out of range [0, {}]", l, layers - 1));
  }
  return w;
}

SftConfig SftConfig::from_resolved(config::ResolvedConfig r) {
  SftConfig c;
  // model
  ModelSource model = read_model_keys(r);
  c.model_path = model.path;
  c.random_init = model.random_init;
  c.init_seed = model.init_seed;
  // data
  if (!r.is_set("data.train_file")) throw ConfigError("key 'data.train_file' is required");
  c.train_file = r.get_string("data.train_file");
  if (r.is_set("data.valid_file")) c.valid_file = r.get_string("data.valid_file");
  if (r.is_set("data.tokenizer")) c.tokenizer_dir = r.get_string("data.tokenizer");
  else if (!c.model_path.empty()) c.tokenizer_dir = c.model_path;
  else throw ConfigError("key 'data.tokenizer' is required when model.path is not set");
  c.format = r.get_string("data.format");
  c.loss_mask = r.get_string("data.loss_mask");
  c.ids_key = r.get_string("data.ids_key");
  c.prompt_key = r.get_string("data.prompt_key");
  c.response_key = r.get_string("data.response_key");
  c.max_length = r.get_int("data.max_length");
  c.max_examples = r.get_int("data.max_examples");
  c.shuffle = r.get_bool("data.shuffle");
  c.pack = r.get_bool("data.pack");
  // train
  c.micro_batch_size = r.get_int("train.micro_batch_size");
  c.global_batch_size = r.get_int("train.global_batch_size");
  if (c.global_batch_size % c.micro_batch_size != 0)
    throw ConfigError(fmt::format("key 'train.global_batch_size': value {} is not a multiple of "
                                  "train.micro_batch_size {}", c.global_batch_size, c.micro_batch_size));
  c.epochs = r.get_float("train.epochs");
  c.max_steps = r.get_int("train.max_steps");
  if (c.max_steps == 0 && c.epochs <= 0)
    throw ConfigError("keys 'train.epochs' and 'train.max_steps' are both 0: nothing to train");
  c.grad_clip = r.get_float("train.grad_clip");
  c.precision = r.get_string("train.precision");
  c.recompute = r.get_bool("train.recompute");
  c.recompute_mlp_only = r.get_string("train.recompute_scope") == "mlp";
  c.seed = r.get_int("train.seed");
  c.device = r.get_string("train.device");
  c.on_nonfinite = r.get_string("train.on_nonfinite");
  c.threads = r.get_int("train.threads");
  read_optim_keys(r, c.lr, c.optim, c.schedule);
  // eval / checkpoints
  c.eval_every = r.get_int("eval.every_steps");
  c.eval_max_batches = r.get_int("eval.max_batches");
  if (c.eval_every > 0 && c.valid_file.empty())
    throw ConfigError("key 'eval.every_steps' is > 0 but 'data.valid_file' is not set");
  c.checkpoint_every = r.get_int("checkpoint.every_steps");
  c.keep_last = r.get_int("checkpoint.keep_last");
  c.resume = r.get_string("checkpoint.resume");
  c.export_at_end = r.get_bool("checkpoint.export_at_end");
  c.output_dir = r.get_string("output_dir");
  if (c.output_dir.empty()) throw ConfigError("key 'output_dir': value '' is empty");
  c.wemask = read_wemask_keys(r, c.random_init);
  // logging
  c.log_level = r.get_string("logging.level");
  c.log_every = r.get_int("logging.every_steps");
  c.metrics_file = r.get_string("logging.metrics_file");
  c.inject_nan_at_step = r.get_int("debug.inject_nan_at_step");
  c.kill_at_step = r.get_int("debug.kill_at_step");
  c.resolved = std::move(r);
  return c;
}

SftConfig SftConfig::load(const std::string& path, std::span<const std::string> overrides) {
  return from_resolved(config::resolve_file(config::sft_schema(), path, overrides));
}

SftConfig SftConfig::from_text(const std::string& yaml, std::span<const std::string> overrides) {
  return from_resolved(config::resolve_text(config::sft_schema(), yaml, overrides));
}

void SftConfig::check_files() const {
  auto problems = config::missing_paths(resolved);
  if (resume != "none" && resume != "auto") {
    std::error_code ec;
    if (!std::filesystem::is_directory(resume, ec))
      problems.push_back(fmt::format("key 'checkpoint.resume': checkpoint folder '{}' does not exist", resume));
  }
  if (problems.empty()) return;
  std::string msg = "missing inputs:";
  for (const auto& p : problems) msg += "\n  " + p;
  throw ConfigError(msg);
}

}  // namespace wm
