#include "rl/grpo_config.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

namespace wm::rl {

using config::ConfigError;

std::vector<RewardTerm> parse_reward_terms(const std::string& text, const std::string& key) {
  // term := [number '*'] name ; expr := term ('+' term)*
  std::vector<RewardTerm> terms;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto fail = [&](const std::string& why) -> void {
    throw ConfigError(fmt::format("key '{}': value '{}': {} (expected e.g. 'gsm8k + 0.1*format')", key, text, why));
  };
  while (true) {
    skip_ws();
    RewardTerm t;
    const char* start = text.c_str() + i;
    char* end = nullptr;
    const double w = std::strtod(start, &end);
    if (end != start) {
      t.weight = w;
      i += static_cast<size_t>(end - start);
      skip_ws();
      if (i >= text.size() || text[i] != '*') fail(fmt::format("expected '*' after the weight at offset {}", i));
      ++i;
      skip_ws();
    }
    const size_t name_start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
    if (i == name_start) fail(fmt::format("expected a reward name at offset {}", i));
    t.name = text.substr(name_start, i - name_start);
    if (!has_reward(t.name)) {
      try {
        find_reward(t.name);
      } catch (const std::invalid_argument& e) {
        throw ConfigError(fmt::format("key '{}': {}", key, e.what()));
      }
    }
    terms.push_back(std::move(t));
    skip_ws();
    if (i == text.size()) break;
    if (text[i] != '+') fail(fmt::format("expected '+' at offset {}", i));
    ++i;
  }
  return terms;
}

GrpoConfig GrpoConfig::from_resolved(config::ResolvedConfig r) {
  GrpoConfig c;
  c.model = read_model_keys(r);
  // data
  if (!r.is_set("data.train_file")) throw ConfigError("key 'data.train_file' is required");
  c.train_file = r.get_string("data.train_file");
  c.format = r.get_string("data.format");
  if (r.is_set("data.tokenizer")) c.tokenizer_dir = r.get_string("data.tokenizer");
  else if (!c.model.path.empty()) c.tokenizer_dir = c.model.path;
  else if (c.format == "chat") throw ConfigError("key 'data.tokenizer' is required when model.path is not set");
  c.prompt_key = r.get_string("data.prompt_key");
  c.answer_key = r.get_string("data.answer_key");
  c.ids_key = r.get_string("data.ids_key");
  c.system_prompt = r.get_string("data.system_prompt");
  c.instruction = r.get_string("data.instruction");
  c.enable_thinking = r.get_bool("data.enable_thinking");
  c.max_prompt_length = r.get_int("data.max_prompt_length");
  c.max_examples = r.get_int("data.max_examples");
  c.shuffle = r.get_bool("data.shuffle");
  // rollout
  c.n = r.get_int("rollout.n");
  c.max_response_length = r.get_int("rollout.max_response_length");
  c.temperature = r.get_float("rollout.temperature");
  c.top_p = r.get_float("rollout.top_p");
  c.top_k = r.get_int("rollout.top_k");
  if (r.get_choice("rollout.stop_ids").empty()) c.stop_ids = r.get_int_list("rollout.stop_ids");
  else if (c.tokenizer_dir.empty())
    throw ConfigError("key 'rollout.stop_ids': auto needs a tokenizer (data.tokenizer); give a list of ids");
  // grpo
  c.prompts_per_step = r.get_int("grpo.prompts_per_step");
  c.mini_batch_size = r.get_int("grpo.mini_batch_size");
  if (c.prompts_per_step % c.mini_batch_size != 0)
    throw ConfigError(fmt::format("key 'grpo.mini_batch_size': value {} does not divide grpo.prompts_per_step {}",
                                  c.mini_batch_size, c.prompts_per_step));
  c.micro_batch_size = r.get_int("grpo.micro_batch_size");
  if ((c.mini_batch_size * c.n) % c.micro_batch_size != 0)
    throw ConfigError(fmt::format("key 'grpo.micro_batch_size': value {} does not divide a mini-batch's {} "
                                  "sequences (grpo.mini_batch_size {} x rollout.n {})",
                                  c.micro_batch_size, c.mini_batch_size * c.n, c.mini_batch_size, c.n));
  c.ppo_epochs = r.get_int("grpo.ppo_epochs");
  c.scale_rewards = r.get_bool("grpo.scale_rewards");
  c.reference_wemask = r.get_bool("grpo.reference_wemask");
  c.loss.clip_low = static_cast<float>(r.get_float("grpo.clip_low"));
  c.loss.clip_high = static_cast<float>(r.get_float("grpo.clip_high"));
  c.loss.kl_coef = static_cast<float>(r.get_float("grpo.kl_coef"));
  c.loss.kl_estimator = parse_kl_estimator(r.get_string("grpo.kl_estimator"));
  c.loss.aggregation = parse_loss_aggregation(r.get_string("grpo.loss_agg_mode"));
  c.loss.norm_length = r.get_int("grpo.norm_length");
  if (c.loss.norm_length == 0) c.loss.norm_length = c.max_response_length;
  c.reward = parse_reward_terms(r.get_string("reward.terms"), "reward.terms");
  // train
  c.max_steps = r.get_int("train.max_steps");
  if (c.max_steps < 1) throw ConfigError("key 'train.max_steps': value 0: nothing to train (needs >= 1)");
  c.grad_clip = r.get_float("train.grad_clip");
  c.precision = r.get_string("train.precision");
  c.recompute = r.get_bool("train.recompute");
  c.seed = r.get_int("train.seed");
  c.device = r.get_string("train.device");
  c.on_nonfinite = r.get_string("train.on_nonfinite");
  c.threads = r.get_int("train.threads");
  read_optim_keys(r, c.lr, c.optim, c.schedule);
  // checkpoints / output
  c.checkpoint_every = r.get_int("checkpoint.every_steps");
  c.keep_last = r.get_int("checkpoint.keep_last");
  c.resume = r.get_string("checkpoint.resume");
  c.export_at_end = r.get_bool("checkpoint.export_at_end");
  c.output_dir = r.get_string("output_dir");
  if (c.output_dir.empty()) throw ConfigError("key 'output_dir': value '' is empty");
  c.wemask = read_wemask_keys(r, c.model.random_init);
  // logging
  c.log_level = r.get_string("logging.level");
  c.log_every = r.get_int("logging.every_steps");
  c.metrics_file = r.get_string("logging.metrics_file");
  c.inject_nan_at_step = r.get_int("debug.inject_nan_at_step");
  c.kill_at_step = r.get_int("debug.kill_at_step");
  c.resolved = std::move(r);
  return c;
}

GrpoConfig GrpoConfig::load(const std::string& path, std::span<const std::string> overrides) {
  return from_resolved(config::resolve_file(grpo_schema(), path, overrides));
}

GrpoConfig GrpoConfig::from_text(const std::string& yaml, std::span<const std::string> overrides) {
  return from_resolved(config::resolve_text(grpo_schema(), yaml, overrides));
}

void GrpoConfig::check_files() const {
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

}  // namespace wm::rl
