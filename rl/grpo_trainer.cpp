#include "rl/grpo_trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/backend.h"
#include "model/pretrained.h"
#include "rl/advantages.h"
#include "rl/rollout.h"
#include "rl/sequence_batch.h"
#include "trainer/checkpoint/atomic_dir.h"
#include "trainer/checkpoint/checkpoint_export.h"
#include "trainer/metrics/progress.h"
#include "trainer/sft/random_init.h"
#include "trainer/sft/wemask_setup.h"

namespace wm::rl {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Sampling seed of a step: a fixed function of (train.seed, step), so that a resumed run samples
// exactly what an uninterrupted one would.
uint64_t rollout_seed(int64_t seed, int64_t step) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

std::string read_bytes(const fs::path& p, std::streamoff offset, std::streamsize count) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + p.string() + "'");
  in.seekg(offset);
  std::string s(static_cast<size_t>(count), '\0');
  in.read(s.data(), count);
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

}  // namespace

nlohmann::json reference_identity(const ModelSource& source, const Qwen3Config& config) {
  if (source.path.empty()) {
    const std::string key = config.to_json_string() + "|init_seed=" + std::to_string(source.init_seed);
    return {{"source", "random_init"}, {"init_seed", source.init_seed}, {"fingerprint", hex64(fnv1a64(key))}};
  }
  const fs::path dir = fs::absolute(source.path);
  std::vector<fs::path> shards;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") shards.push_back(e.path());
  std::sort(shards.begin(), shards.end());
  std::string key = read_bytes(dir / "config.json", 0, 1 << 20);
  constexpr std::streamsize kMiB = 1 << 20;
  for (const auto& s : shards) {
    const auto size = static_cast<std::streamoff>(fs::file_size(s));
    key += "|" + s.filename().string() + ":" + std::to_string(size) + ":";
    key += read_bytes(s, 0, kMiB);
    if (size > kMiB) key += read_bytes(s, std::max<std::streamoff>(0, size - kMiB), kMiB);
  }
  return {{"source", dir.string()}, {"fingerprint", hex64(fnv1a64(key))}};
}

struct GrpoTrainer::Rollout {
  std::vector<int64_t> prompt_index;            // per sequence (groups of n contiguous)
  std::vector<std::vector<int32_t>> responses;  // per sequence
  std::vector<float> rewards, advantages;
  std::vector<uint8_t> correct;
  int64_t generated_tokens = 0, stopped = 0;
};

struct GrpoTrainer::StepLogprobs {
  std::vector<std::vector<float>> old_logp, ref_logp;  // per micro-batch, per response token
};

GrpoTrainer::~GrpoTrainer() = default;

GrpoTrainer::GrpoTrainer(GrpoConfig config) : cfg_(std::move(config)), out_(cfg_.output_dir) {
  spdlog::set_level(spdlog::level::from_str(cfg_.log_level));
  cfg_.check_files();  // every missing input is reported before any work
#ifdef _OPENMP
  if (cfg_.threads > 0) omp_set_num_threads(static_cast<int>(cfg_.threads));
#endif
  if (cfg_.device == "cuda" && !cuda_available())
    throw std::runtime_error("key 'train.device' is cuda but no CUDA device is available");
  device_ = cfg_.device == "cpu" ? Device::CPU : (cfg_.device == "cuda" || cuda_available() ? Device::CUDA : Device::CPU);
  dtype_ = cfg_.precision == "bf16" ? DType::BF16 : DType::F32;
  if (device_ == Device::CPU && dtype_ == DType::BF16) {
    spdlog::warn("train.precision bf16 on the CPU backend: computing in fp32 (the CPU backend computes in F32/F64)");
    dtype_ = DType::F32;
  }
  reward_ = std::make_unique<CombinedReward>(cfg_.reward);
  fs::create_directories(out_);
  const std::string resolved = cfg_.resolved.to_yaml();
  spdlog::info("resolved config:\n{}", resolved);
  write_file_durably(out_ / "config.yaml", resolved);

  if (!cfg_.tokenizer_dir.empty()) tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(cfg_.tokenizer_dir));
  build_models();
  const Qwen3Config& mc = policy_->config();

  PromptReadOptions po;
  po.path = cfg_.train_file;
  po.format = cfg_.format;
  po.prompt_key = cfg_.prompt_key;
  po.answer_key = cfg_.answer_key;
  po.ids_key = cfg_.ids_key;
  po.system_prompt = cfg_.system_prompt;
  po.instruction = cfg_.instruction;
  po.enable_thinking = cfg_.enable_thinking;
  po.max_prompt_length = cfg_.max_prompt_length;
  po.max_examples = cfg_.max_examples;
  po.vocab_size = static_cast<int32_t>(std::min<int64_t>(mc.vocab_size, INT32_MAX));
  int64_t dropped = 0;
  prompts_ = read_grpo_prompts(po, tokenizer_.get(), &dropped);
  spdlog::info("prompts: {} from {} ({} dropped: longer than data.max_prompt_length {})", prompts_.size(),
               cfg_.train_file, dropped, cfg_.max_prompt_length);
  order_ = std::make_unique<PromptOrder>(static_cast<int64_t>(prompts_.size()), static_cast<uint64_t>(cfg_.seed),
                                         cfg_.shuffle);

  if (!cfg_.stop_ids.empty()) {
    for (auto id : cfg_.stop_ids) {
      if (id >= mc.vocab_size)
        throw config::ConfigError(fmt::format("key 'rollout.stop_ids': id {} is outside the vocabulary [0, {})", id,
                                              mc.vocab_size));
      stop_ids_.push_back(static_cast<int32_t>(id));
    }
  } else {
    for (const char* t : {"<|im_end|>", "<|endoftext|>"})
      if (auto id = tokenizer_->token_id(t); id && *id < mc.vocab_size) stop_ids_.push_back(*id);
  }

  // WeMask: me_layer auto probes the first prompts.
  std::vector<std::vector<int32_t>> calibration;
  for (size_t i = 0; i < prompts_.size() && calibration.size() < 32; ++i)
    if (prompts_[i].ids.size() >= 2) calibration.push_back(prompts_[i].ids);
  const WeMaskSpec spec = install_wemask(*policy_, cfg_.wemask, calibration);
  if (reference_ && spec.enabled && cfg_.reference_wemask)
    reference_->wemask() = WeMask(spec, static_cast<int>(mc.num_hidden_layers), mc.hidden_size, device_);

  ParamStore& store = policy_->params();
  optimizer_ = std::make_unique<AdamW>(store.flat_params(), store.flat_grads(),
                                       decay_segments(store, cfg_.optim.no_decay_norms_and_embeddings), cfg_.optim);
  schedule_ = std::make_unique<LrSchedule>(cfg_.schedule, cfg_.max_steps);
  spdlog::info("grpo: {} steps of {} prompts x {} responses; {} update(s) per step ({} epoch(s) x {} mini-batches "
               "of {} sequences, micro-batches of {}); rollout engine: {}",
               cfg_.max_steps, cfg_.prompts_per_step, cfg_.n, cfg_.ppo_epochs * cfg_.mini_batches_per_step(),
               cfg_.ppo_epochs, cfg_.mini_batches_per_step(), cfg_.mini_batch_size * cfg_.n, cfg_.micro_batch_size,
               rollout_engine_name());

  remove_stale_tmp_dirs(checkpoint_root(out_));
  bool resumed = false;
  if (cfg_.resume == "auto") {
    if (auto latest = latest_checkpoint(out_)) {
      restore(*latest);
      resumed = true;
    } else {
      spdlog::info("resume: auto found no complete checkpoint in {}; starting fresh", checkpoint_root(out_).string());
    }
  } else if (cfg_.resume != "none") {
    restore(cfg_.resume);
    resumed = true;
  }
  metrics_ = MetricsLog((out_ / cfg_.metrics_file).string(), resumed);
}

void GrpoTrainer::build_models() {
  ModelOptions mo;
  mo.device = device_;
  mo.dtype = dtype_;
  mo.recompute = cfg_.recompute;
  mo.max_tokens = cfg_.micro_batch_size * cfg_.max_sequence_length();
  mo.loss_chunk = std::min<int64_t>(1024, mo.max_tokens);
  auto make = [&](const ModelOptions& o) {
    std::unique_ptr<Qwen3Model> m;
    if (!cfg_.model.path.empty()) {
      m = load_pretrained(cfg_.model.path, o);
    } else {
      m = std::make_unique<Qwen3Model>(*cfg_.model.random_init, o);
      init_random_weights(m->params(), static_cast<uint64_t>(cfg_.model.init_seed));
    }
    return m;
  };
  policy_ = make(mo);
  const Qwen3Config& mc = policy_->config();
  spdlog::info("policy: {} ({:.1f}M parameters on {} in {})",
               cfg_.model.path.empty() ? fmt::format("random init (seed {})", cfg_.model.init_seed) : cfg_.model.path,
               static_cast<double>(total_numel(policy_->params().specs())) / 1e6, device_name(device_),
               dtype_name(dtype_));
  if (cfg_.loss.kl_coef > 0) {
    ModelOptions ro = mo;
    ro.inference_only = true;
    ro.recompute = false;
    reference_ = make(ro);
    reference_identity_ = reference_identity(cfg_.model, mc);
    spdlog::info("reference: frozen copy of the base weights ({})", reference_identity_.dump());
  }
  if (tokenizer_) {
    auto eos = tokenizer_->token_id("<|endoftext|>");
    pad_id_ = eos && *eos < mc.vocab_size ? *eos : 0;
  }
}

void GrpoTrainer::restore(const fs::path& dir) {
  LoadedCheckpoint ck(dir);
  if (ck.model_config_json() != policy_->config().to_json_string())
    throw std::runtime_error("checkpoint '" + dir.string() + "' was written for another model configuration");
  if (ck.numel() != policy_->params().padded_numel())
    throw std::runtime_error(fmt::format("checkpoint '{}' holds {} parameters, the model {}", dir.string(), ck.numel(),
                                         policy_->params().padded_numel()));
  const nlohmann::json& grpo = ck.state().loader_state;
  if (!grpo.is_object() || !grpo.contains("prompt_order") || !grpo.contains("reference"))
    throw std::runtime_error("checkpoint '" + dir.string() + "' is not a GRPO checkpoint (no prompt order / reference)");
  if (grpo.at("reference") != reference_identity_)
    throw std::runtime_error("checkpoint '" + dir.string() + "' was trained against reference model " +
                             grpo.at("reference").dump() + ", this run's reference is " + reference_identity_.dump());
  ck.copy_master_to(optimizer_->master());
  ck.copy_adam_m_to(optimizer_->m());
  ck.copy_adam_v_to(optimizer_->v());
  state_ = ck.state();
  updates_ = grpo.at("optimizer_updates").get<int64_t>();
  skipped_updates_ = grpo.value("skipped_updates", int64_t{0});
  optimizer_->set_steps_taken(updates_ - skipped_updates_);
  optimizer_->refresh_params();
  order_->restore(grpo.at("prompt_order"));
  spdlog::info("resumed from {} (step {}, {} optimizer updates)", dir.string(), state_.step, updates_);
}

fs::path GrpoTrainer::save() {
  CheckpointData data;
  data.master = optimizer_->master();
  data.adam_m = optimizer_->m();
  data.adam_v = optimizer_->v();
  data.state = state_;
  data.state.rng_state = "";  // sampling seeds are a function of (train.seed, step)
  // GRPO's resumable position lives in the state's loader_state object.
  data.state.loader_state = {{"prompt_order", order_->state()},
                             {"optimizer_updates", updates_},
                             {"skipped_updates", skipped_updates_},
                             {"reference", reference_identity_}};
  data.config_yaml = cfg_.resolved.to_yaml();
  data.model_config_json = policy_->config().to_json_string();
  fs::path dir = save_checkpoint(out_, data);
  prune_checkpoints(out_, cfg_.keep_last);
  spdlog::info("checkpoint: {}", dir.string());
  return dir;
}

GrpoTrainer::Rollout GrpoTrainer::generate(int64_t step) {
  Rollout r;
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t p : order_->next(cfg_.prompts_per_step))
    for (int64_t k = 0; k < cfg_.n; ++k) {
      r.prompt_index.push_back(p);
      prompts.push_back(prompts_[static_cast<size_t>(p)].ids);
    }
  RolloutOptions ro;
  ro.max_new_tokens = cfg_.max_response_length;
  ro.temperature = cfg_.temperature;
  ro.top_p = cfg_.top_p;
  ro.top_k = cfg_.top_k;
  ro.seed = rollout_seed(cfg_.seed, step);
  ro.stop_ids = stop_ids_;
  for (auto& s : sample_responses(*policy_, prompts, ro)) {
    if (s.tokens.empty()) s.tokens.push_back(stop_ids_.empty() ? pad_id_ : stop_ids_.front());
    r.generated_tokens += static_cast<int64_t>(s.tokens.size());
    r.stopped += s.stopped ? 1 : 0;
    r.responses.push_back(std::move(s.tokens));
  }
  for (size_t i = 0; i < r.responses.size(); ++i) {
    const std::string text = decode_response(tokenizer_.get(), r.responses[i], stop_ids_);
    const GrpoPrompt& p = prompts_[static_cast<size_t>(r.prompt_index[i])];
    const auto v = (*reward_)({text, r.responses[i], p.gold});
    r.rewards.push_back(static_cast<float>(v.total));
    r.correct.push_back(v.correct ? 1 : 0);
  }
  r.advantages = group_advantages(r.rewards, {.group_size = static_cast<int>(cfg_.n), .scale_rewards = cfg_.scale_rewards});
  return r;
}

namespace {

// Sequences [begin, end) of a rollout as a model batch.
SequenceBatch micro_batch(const std::vector<GrpoPrompt>& prompts, const std::vector<int64_t>& prompt_index,
                          const std::vector<std::vector<int32_t>>& responses, int64_t begin, int64_t end, int32_t pad) {
  std::vector<std::span<const int32_t>> ps, rs;
  for (int64_t i = begin; i < end; ++i) {
    ps.emplace_back(prompts[static_cast<size_t>(prompt_index[static_cast<size_t>(i)])].ids);
    rs.emplace_back(responses[static_cast<size_t>(i)]);
  }
  return build_sequence_batch(ps, rs, pad);
}

}  // namespace

GrpoTrainer::StepLogprobs GrpoTrainer::recompute_logprobs(const Rollout& r) {
  StepLogprobs lp;
  const int64_t total = static_cast<int64_t>(r.responses.size());
  for (int64_t b = 0; b < total; b += cfg_.micro_batch_size) {
    SequenceBatch sb = micro_batch(prompts_, r.prompt_index, r.responses, b, std::min(total, b + cfg_.micro_batch_size),
                                   pad_id_);
    const Batch batch(sb.host, device_);
    lp.old_logp.push_back(response_logp(sb, policy_->forward_loss(batch).token_loss));
    if (reference_) lp.ref_logp.push_back(response_logp(sb, reference_->forward_loss(batch).token_loss));
  }
  return lp;
}

GrpoResult GrpoTrainer::run(int64_t stop_after_step) {
  const int64_t last = stop_after_step > 0 ? std::min(stop_after_step, cfg_.max_steps) : cfg_.max_steps;
  GrpoResult result;
  result.first_step = state_.step + 1;
  ParamStore& store = policy_->params();
  const auto run_start = Clock::now();
  int64_t steps_this_run = 0;
  bool saved_last = false;
  const int64_t per_mini = cfg_.mini_batch_size * cfg_.n, micro = cfg_.micro_batch_size;

  while (state_.step < last) {
    const int64_t step = state_.step + 1;
    const auto t0 = Clock::now();
    const Rollout ro = generate(step);
    const double rollout_s = seconds_since(t0);
    const auto t1 = Clock::now();
    const StepLogprobs lp = recompute_logprobs(ro);

    // Rollout statistics.
    const double n_seq = static_cast<double>(ro.rewards.size());
    double reward_mean = 0, reward_sq = 0, correct = 0, entropy_sum = 0;
    int64_t response_tokens = 0, sequence_tokens = 0;
    for (size_t i = 0; i < ro.rewards.size(); ++i) {
      reward_mean += ro.rewards[i];
      reward_sq += static_cast<double>(ro.rewards[i]) * ro.rewards[i];
      correct += ro.correct[i];
      response_tokens += static_cast<int64_t>(ro.responses[i].size());
      sequence_tokens += static_cast<int64_t>(ro.responses[i].size() + prompts_[ro.prompt_index[i]].ids.size());
    }
    reward_mean /= n_seq;
    const double reward_std = std::sqrt(std::max(0.0, reward_sq / n_seq - reward_mean * reward_mean));
    for (const auto& m : lp.old_logp)
      for (float x : m) entropy_sum -= x;  // mean -log p of the sampled tokens: a sample estimate of the entropy

    // Updates: ppo_epochs x mini-batches, micro-batches accumulate gradients.
    const double lr = schedule_->lr_at(step);
    double loss_sum = 0, grad_norm_sum = 0, clip_sum = 0, kl_sum = 0, counted_sum = 0;
    int64_t updates_this_step = 0, skipped_this_step = 0;
    for (int64_t epoch = 0; epoch < cfg_.ppo_epochs; ++epoch) {
      for (int64_t mb = 0; mb < static_cast<int64_t>(ro.responses.size()); mb += per_mini) {
        store.zero_grad();
        int64_t mini_tokens = 0;
        for (int64_t i = mb; i < mb + per_mini; ++i) mini_tokens += static_cast<int64_t>(ro.responses[i].size());
        double loss = 0;
        for (int64_t b = mb; b < mb + per_mini; b += micro) {
          const int64_t e = b + micro;
          const SequenceBatch sb = micro_batch(prompts_, ro.prompt_index, ro.responses, b, e, pad_id_);
          const size_t micro_id = static_cast<size_t>(b / micro);
          // The loss of a micro-batch is normalised inside it; rescale to the mini-batch's normaliser.
          const double scale = cfg_.loss.aggregation == LossAggregation::TokenMean
                                   ? static_cast<double>(sb.response_tokens()) / static_cast<double>(mini_tokens)
                                   : static_cast<double>(micro) / static_cast<double>(per_mini);
          const std::vector<float> adv(ro.advantages.begin() + b, ro.advantages.begin() + e);
          const std::vector<float> mask(static_cast<size_t>(sb.response_tokens()), 1.0f);
          policy_->forward_backward(Batch(sb.host, device_), [&](const std::vector<double>& token_loss) {
            const std::vector<float> logp = response_logp(sb, token_loss);
            PolicyLossInput in{logp, lp.old_logp[micro_id],
                               reference_ ? std::span<const float>(lp.ref_logp[micro_id]) : std::span<const float>(),
                               mask, adv, sb.seq_offsets};
            const PolicyLossResult pl = policy_loss(in, cfg_.loss);
            loss += scale * pl.loss;
            const double counted = static_cast<double>(sb.response_tokens());
            clip_sum += pl.clip_fraction * counted;
            kl_sum += pl.kl_mean * counted;
            counted_sum += counted;
            return token_loss_grad(sb, pl.dloss_dlogp, scale);
          });
        }
        if (cfg_.inject_nan_at_step == step && updates_this_step == 0) loss = NAN;  // test hook
        const double grad_norm = global_grad_norm(store.flat_grads());
        ++updates_;
        ++updates_this_step;
        if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
          const std::string what = fmt::format("step {}: non-finite {} (loss {}, grad norm {})", step,
                                               std::isfinite(loss) ? "gradient" : "loss", loss, grad_norm);
          if (cfg_.on_nonfinite == "error") {
            auto latest = latest_checkpoint(out_);
            throw std::runtime_error(what + "; stopping without writing a checkpoint (last good checkpoint: " +
                                     (latest ? latest->string() : std::string("none")) +
                                     "). Set train.on_nonfinite: skip to skip such updates.");
          }
          spdlog::warn("{}; skipping the update (train.on_nonfinite: skip)", what);
          ++skipped_updates_;
          ++skipped_this_step;
          continue;
        }
        optimizer_->step(lr, clip_scale(grad_norm, cfg_.grad_clip));
        loss_sum += loss;
        grad_norm_sum += grad_norm;
      }
    }
    if (cfg_.kill_at_step == step) ::raise(SIGKILL);  // test hook: a crash after the updates
    const double train_s = seconds_since(t1);
    const double step_s = seconds_since(t0);
    state_.step = step;
    state_.tokens_seen += sequence_tokens;
    if (skipped_this_step > 0) ++state_.skipped_steps;
    ++steps_this_run;
    const int64_t good = updates_this_step - skipped_this_step;

    const double accuracy = correct / n_seq;
    const double entropy = entropy_sum / std::max<double>(1, static_cast<double>(response_tokens));
    const double rollout_tok_s = static_cast<double>(ro.generated_tokens) / std::max(rollout_s, 1e-9);
    const double train_tok_s = static_cast<double>(sequence_tokens * cfg_.ppo_epochs) / std::max(train_s, 1e-9);
    result.reward_mean.push_back(reward_mean);
    result.accuracy.push_back(accuracy);
    nlohmann::json rec = {{"step", step},
                          {"reward_mean", reward_mean},
                          {"reward_std", reward_std},
                          {"accuracy", accuracy},
                          {"response_length_mean", static_cast<double>(response_tokens) / n_seq},
                          {"stopped_fraction", static_cast<double>(ro.stopped) / n_seq},
                          {"entropy", entropy},
                          {"kl", counted_sum > 0 ? kl_sum / counted_sum : 0.0},
                          {"clip_fraction", counted_sum > 0 ? clip_sum / counted_sum : 0.0},
                          {"lr", lr},
                          {"updates", updates_this_step},
                          {"skipped_updates", skipped_this_step},
                          {"rollout_tokens", ro.generated_tokens},
                          {"rollout_tokens_per_s", rollout_tok_s},
                          {"train_tokens_per_s", train_tok_s},
                          {"rollout_s", rollout_s},
                          {"train_s", train_s},
                          {"step_s", step_s},
                          {"epoch", order_->epoch()}};
    if (good > 0) {
      rec["loss"] = loss_sum / static_cast<double>(good);
      rec["grad_norm"] = grad_norm_sum / static_cast<double>(good);
    }
    metrics_.write(rec);
    if (step % cfg_.log_every == 0 || step == last) {
      spdlog::info("step {}/{} | reward {:.3f} ± {:.3f} | acc {:.3f} | len {:.1f} | kl {:.4f} | clip {:.3f} | "
                   "entropy {:.3f} | rollout {} tok/s, train {} tok/s | time rollout {:.1f}s / train {:.1f}s | eta {}",
                   step, cfg_.max_steps, reward_mean, reward_std, accuracy,
                   static_cast<double>(response_tokens) / n_seq, rec["kl"].get<double>(),
                   rec["clip_fraction"].get<double>(), entropy, format_rate(rollout_tok_s), format_rate(train_tok_s),
                   rollout_s, train_s,
                   format_duration(eta_seconds(seconds_since(run_start), steps_this_run, cfg_.max_steps - step)));
    }
    saved_last = false;
    if ((cfg_.checkpoint_every > 0 && step % cfg_.checkpoint_every == 0) || step == last) {
      result.last_checkpoint = save();
      saved_last = true;
    }
  }
  if (!saved_last && state_.step > 0)
    if (auto latest = latest_checkpoint(out_)) result.last_checkpoint = *latest;
  result.last_step = state_.step;
  if (state_.step == cfg_.max_steps && cfg_.export_at_end) {
    HfExportOptions eo;
    eo.store_dtype = cfg_.precision == "bf16" ? DType::BF16 : DType::F32;
    if (!cfg_.tokenizer_dir.empty()) eo.tokenizer_src_dir = cfg_.tokenizer_dir;
    eo.overwrite = true;
    const fs::path final_dir = out_ / "final";
    export_hf_folder(final_dir.string(), policy_->config(), master_views(store, optimizer_->master()), eo);
    spdlog::info("exported {} (Hugging Face folder)", final_dir.string());
  }
  return result;
}

}  // namespace wm::rl
