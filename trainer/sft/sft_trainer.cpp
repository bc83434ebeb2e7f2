#include "trainer/sft/sft_trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/ops.h"
#include "model/pretrained.h"
#include "trainer/checkpoint/atomic_dir.h"
#include "trainer/checkpoint/checkpoint_export.h"
#include "trainer/metrics/progress.h"
#include "trainer/sft/micro_batches.h"
#include "trainer/sft/random_init.h"
#include "trainer/sft/wemask_setup.h"

namespace wm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string rng_text(const std::mt19937_64& rng) {
  std::ostringstream ss;
  ss << rng;
  return ss.str();
}

}  // namespace

SftTrainer::~SftTrainer() = default;

SftTrainer::SftTrainer(SftConfig config) : cfg_(std::move(config)), out_(cfg_.output_dir) {
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
  dist_ = dist::DistContext::from_environment(device_, std::chrono::seconds(cfg_.resolved.get_int("dist.timeout_s")));
  const int world = dist_->world();
  if (!is_root() && spdlog::get_level() < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);  // rank 0 logs
  if (cfg_.global_batch_size % (cfg_.micro_batch_size * world) != 0)
    throw std::invalid_argument(fmt::format(
        "key 'train.global_batch_size': {} rows do not split into {} ranks x train.micro_batch_size {} "
        "(global batch = micro x accumulation x ranks)",
        cfg_.global_batch_size, world, cfg_.micro_batch_size));
  micro_per_rank_ = cfg_.global_batch_size / (cfg_.micro_batch_size * world);
  zero_stage_ = static_cast<int>(cfg_.resolved.get_int("train.zero_stage"));
  kill_rank_ = cfg_.resolved.get_int("debug.kill_rank");
  hang_at_step_ = cfg_.resolved.get_int("debug.hang_at_step");
  save_at_end_ = cfg_.resolved.get_bool("checkpoint.save_at_end");
  if (is_root()) {
    fs::create_directories(out_);
    const std::string resolved = cfg_.resolved.to_yaml();
    spdlog::info("resolved config:\n{}", resolved);
    write_file_durably(out_ / "config.yaml", resolved);
  }
  rng_.seed(static_cast<uint64_t>(cfg_.seed));

  tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(cfg_.tokenizer_dir));
  build_model();
  train_data_ = read_dataset(cfg_.train_file, "training");
  if (!cfg_.valid_file.empty()) valid_data_ = read_dataset(cfg_.valid_file, "validation");
  for (size_t i = 0; i < train_data_->size() && calibration_docs_.size() < 32; ++i) {
    auto t = train_data_->tokens(i);
    calibration_docs_.emplace_back(t.begin(), t.begin() + std::min<int64_t>(t.size(), cfg_.max_length));
  }
  resolve_wemask();

  LoaderOptions lo;
  lo.max_seq_len = cfg_.max_length;
  lo.rows_per_rank = cfg_.global_batch_size / world;  // one loader step = one optimizer step; split below
  lo.rank = dist_->rank();
  lo.world = world;
  lo.mode = cfg_.pack ? BatchMode::packed : BatchMode::padded;
  lo.shuffle = cfg_.shuffle;
  lo.seed = static_cast<uint64_t>(cfg_.seed);
  lo.pad_id = pad_id_;
  loader_ = std::make_unique<DataLoader>(train_data_, lo);
  const int64_t per_epoch = loader_->steps_per_epoch();
  total_steps_ = cfg_.max_steps > 0 ? cfg_.max_steps
                                    : static_cast<int64_t>(std::ceil(cfg_.epochs * static_cast<double>(per_epoch)));
  if (total_steps_ < 1) throw std::runtime_error("nothing to train: 0 optimizer steps");
  spdlog::info("data: {} examples, {} steps per epoch (global batch {} rows = {} rank(s) x {} micro-batch(es) x {} "
               "rows of {} tokens); {} steps in total",
               train_data_->size(), per_epoch, cfg_.global_batch_size, world, micro_per_rank_,
               cfg_.micro_batch_size, cfg_.max_length, total_steps_);

  ParamStore& store = model_->params();
  dist::GradSyncOptions gso;
  gso.zero_stage = zero_stage_;
  gso.micro_batches = micro_per_rank_;
  gso.bucket_bytes = cfg_.resolved.get_int("dist.bucket_mb") << 20;
  gso.exact_accumulation = cfg_.resolved.get_bool("dist.exact_accumulation");
  grad_sync_ = std::make_unique<dist::GradSync>(*dist_, *model_, gso);
  // The optimizer updates this rank's shard (ZeRO-1) or everything.
  const dist::FlatRange shard = grad_sync_->shard();
  optimizer_ = std::make_unique<AdamW>(
      store.flat_params().slice(shard.begin, shard.end), store.flat_grads().slice(shard.begin, shard.end),
      dist::shard_segments(decay_segments(store, cfg_.optim.no_decay_norms_and_embeddings), shard), cfg_.optim);
  schedule_ = std::make_unique<LrSchedule>(cfg_.schedule, total_steps_);

  if (is_root()) remove_stale_tmp_dirs(checkpoint_root(out_));
  dist_->barrier();  // the others list checkpoints only after that clean-up
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
  // Every rank must start from the same step (output_dir on a filesystem all ranks see).
  std::vector<double> steps{static_cast<double>(state_.step)};
  dist_->all_reduce(steps);
  if (steps[0] != static_cast<double>(state_.step) * world)
    throw std::runtime_error(fmt::format("rank {} resumes at step {} but the ranks disagree (sum of steps {}): "
                                         "output_dir '{}' must be on a filesystem every rank sees",
                                         dist_->rank(), state_.step, steps[0], out_.string()));
  if (is_root()) metrics_ = MetricsLog((out_ / cfg_.metrics_file).string(), resumed);
}

std::shared_ptr<const TokenizedDataset> SftTrainer::read_dataset(const std::string& path, const std::string& what) const {
  DatasetOptions o;
  o.path = path;
  o.format = parse_dataset_format(cfg_.format);
  o.prompt_key = cfg_.prompt_key;
  o.response_key = cfg_.response_key;
  o.ids_key = cfg_.ids_key;
  o.loss_mask = parse_loss_mask_mode(cfg_.loss_mask);
  o.vocab_size = static_cast<int32_t>(std::min<int64_t>(model_->config().vocab_size, INT32_MAX));
  TokenizedDataset all = load_dataset(*tokenizer_, o);
  if (all.size() == 0) throw std::runtime_error(fmt::format("{} file '{}' holds no example", what, path));
  if (cfg_.max_examples <= 0 || static_cast<int64_t>(all.size()) <= cfg_.max_examples) {
    spdlog::info("{} data: {} examples, {} tokens ({} in the loss) from {}", what, all.size(), all.stats.tokens,
                 all.stats.loss_tokens, path);
    return std::make_shared<const TokenizedDataset>(std::move(all));
  }
  TokenizedDataset head;
  head.source_path = all.source_path;
  for (int64_t i = 0; i < cfg_.max_examples; ++i) {
    TokenizedExample ex;
    auto t = all.tokens(i);
    auto m = all.loss_mask(i);
    ex.tokens.assign(t.begin(), t.end());
    ex.loss_mask.assign(m.begin(), m.end());
    head.add(ex, all.source_line(i));
  }
  spdlog::info("{} data: first {} of {} examples from {}", what, head.size(), all.size(), path);
  return std::make_shared<const TokenizedDataset>(std::move(head));
}

void SftTrainer::build_model() {
  ModelOptions mo;
  mo.device = device_;
  mo.dtype = dtype_;
  mo.recompute = cfg_.recompute;
  mo.recompute_mlp_only = cfg_.recompute_mlp_only;
  mo.max_tokens = cfg_.micro_batch_size * cfg_.max_length;
  mo.loss_chunk = std::min<int64_t>(1024, mo.max_tokens);
  if (!cfg_.model_path.empty()) {
    model_ = load_pretrained(cfg_.model_path, mo);
    spdlog::info("model: loaded {}", cfg_.model_path);
  } else {
    model_ = std::make_unique<Qwen3Model>(*cfg_.random_init, mo);
    init_random_weights(model_->params(), static_cast<uint64_t>(cfg_.init_seed));
    spdlog::info("model: random init (seed {}) of a {}-layer Qwen3, hidden {}", cfg_.init_seed,
                 cfg_.random_init->num_hidden_layers, cfg_.random_init->hidden_size);
  }
  const Qwen3Config& mc = model_->config();
  spdlog::info("model: {:.1f}M parameters on {} in {}", static_cast<double>(total_numel(model_->params().specs())) / 1e6,
               device_name(device_), dtype_name(dtype_));
  auto eos = tokenizer_->token_id("<|endoftext|>");
  pad_id_ = eos && *eos < mc.vocab_size ? *eos : 0;
}

void SftTrainer::resolve_wemask() { install_wemask(*model_, cfg_.wemask, calibration_docs_); }

void SftTrainer::restore(const fs::path& dir) {
  LoadedCheckpoint ck(dir);
  const std::string model_json = model_->config().to_json_string();
  if (ck.model_config_json() != model_json)
    throw std::runtime_error("checkpoint '" + dir.string() + "' was written for another model configuration");
  if (ck.numel() != model_->params().padded_numel())
    throw std::runtime_error(fmt::format("checkpoint '{}' holds {} parameters, the model {}", dir.string(),
                                         ck.numel(), model_->params().padded_numel()));
  const dist::FlatRange shard = grad_sync_->shard();
  if (shard.size() == ck.numel()) {
    ck.copy_master_to(optimizer_->master());
    ck.copy_adam_m_to(optimizer_->m());
    ck.copy_adam_v_to(optimizer_->v());
  } else {  // ZeRO-1: the checkpoint holds the full state; keep this rank's shard
    OwnedTensor full({ck.numel()}, DType::F32, device_);
    ck.copy_master_to(full);
    ops::copy(optimizer_->master(), full.t().slice(shard.begin, shard.end));
    ck.copy_adam_m_to(full);
    ops::copy(optimizer_->m(), full.t().slice(shard.begin, shard.end));
    ck.copy_adam_v_to(full);
    ops::copy(optimizer_->v(), full.t().slice(shard.begin, shard.end));
  }
  state_ = ck.state();
  optimizer_->set_steps_taken(state_.step - state_.skipped_steps);
  optimizer_->refresh_params();
  grad_sync_->gather_params();
  LoaderState ls;
  from_json(state_.loader_state, ls);
  loader_->restore(ls);
  std::istringstream(state_.rng_state) >> rng_;
  spdlog::info("resumed from {} (step {}, {} tokens seen)", dir.string(), state_.step, state_.tokens_seen);
}

// Every rank first agrees that the step is done (barrier); with ZeRO-1 the shards are gathered.
// Then rank 0 alone writes the folder (COMPLETE last, atomically) while the others wait for it.
fs::path SftTrainer::save() {
  dist_->barrier();
  CheckpointData data;
  data.master = optimizer_->master();
  data.adam_m = optimizer_->m();
  data.adam_v = optimizer_->v();
  std::vector<OwnedTensor> gathered;  // ZeRO-1: full buffers on rank 0 (host memory)
  if (grad_sync_->shard().size() != model_->params().padded_numel()) {
    const int64_t N = model_->params().padded_numel();
    for (const Tensor* part : {&optimizer_->master(), &optimizer_->m(), &optimizer_->v()}) {
      OwnedTensor full({N}, DType::F32, device_);
      grad_sync_->gather_full(*part, full);
      if (!is_root()) continue;
      gathered.emplace_back(std::vector<int64_t>{N}, DType::F32, Device::CPU);
      ops::copy(gathered.back(), full);
    }
    if (is_root()) {
      data.master = gathered[0];
      data.adam_m = gathered[1];
      data.adam_v = gathered[2];
    }
  }
  if (!is_root()) {
    dist_->barrier();
    return checkpoint_dir(out_, state_.step);
  }
  data.state = state_;
  data.state.rng_state = rng_text(rng_);
  nlohmann::json loader_json;
  to_json(loader_json, loader_->state());
  data.state.loader_state = loader_json;
  data.config_yaml = cfg_.resolved.to_yaml();
  data.model_config_json = model_->config().to_json_string();
  fs::path dir = save_checkpoint(out_, data);
  prune_checkpoints(out_, cfg_.keep_last);
  spdlog::info("checkpoint: {}", dir.string());
  dist_->barrier();
  return dir;
}

double SftTrainer::evaluate() {
  LoaderOptions lo;
  lo.max_seq_len = cfg_.max_length;
  lo.rows_per_rank = cfg_.micro_batch_size;
  lo.mode = cfg_.pack ? BatchMode::packed : BatchMode::padded;
  lo.shuffle = false;
  lo.pad_id = pad_id_;
  lo.rank = dist_->rank();  // each rank evaluates its rows of every batch
  lo.world = dist_->world();
  DataLoader loader(valid_data_, lo);
  int64_t batches = loader.steps_per_epoch();
  if (cfg_.eval_max_batches > 0) batches = std::min(batches, cfg_.eval_max_batches);
  double loss_sum = 0;
  int64_t loss_tokens = 0;
  for (int64_t b = 0; b < batches; ++b) {
    PackedBatch pb = loader.next();
    HostBatch hb = micro_batch(pb, 0, pb.rows);
    for (auto& w : hb.loss_weight) w = w > 0 ? 1.0f : 0.0f;  // sum of token losses
    loss_sum += model_->forward_loss(Batch(std::move(hb), device_)).weighted_loss;
    loss_tokens += pb.loss_tokens;
  }
  std::vector<double> sums{loss_sum, static_cast<double>(loss_tokens)};
  dist_->all_reduce(sums);
  return sums[1] > 0 ? sums[0] / sums[1] : NAN;
}

SftResult SftTrainer::run(int64_t stop_after_step) {
  const int64_t last = stop_after_step > 0 ? std::min(stop_after_step, total_steps_) : total_steps_;
  SftResult result;
  result.first_step = state_.step + 1;
  try {
    run_steps(last, result);
  } catch (const std::exception& e) {
    if (dist_->world() == 1) throw;
    // A failed collective (or any error) on one rank: say where every rank was.
    throw std::runtime_error(fmt::format("{} [{}]", e.what(), dist_->describe_peers(state_.step)));
  }
  return result;
}

void SftTrainer::run_steps(int64_t last, SftResult& result) {
  const double fpt = flops_per_token(model_->config(), cfg_.max_length);
  ParamStore& store = model_->params();
  const auto run_start = Clock::now();
  int64_t steps_this_run = 0;
  bool saved_last = false;

  while (state_.step < last) {
    const auto t0 = Clock::now();
    const int64_t step = state_.step + 1;
    PackedBatch global = loader_->next();  // this rank's rows of the global batch
    // Global counts: every loss token of the global batch gets weight 1 / (its loss tokens).
    std::vector<double> counts{static_cast<double>(global.loss_tokens), static_cast<double>(non_padding_tokens(global))};
    dist_->all_reduce(counts);
    global.loss_tokens = static_cast<int64_t>(counts[0]);
    const int64_t tokens = static_cast<int64_t>(counts[1]);
    std::vector<double> loss_sum{0.0};
    auto micro = split_micro_batches(global, cfg_.micro_batch_size);
    for (int64_t i = 0; i < static_cast<int64_t>(micro.size()); ++i) {
      grad_sync_->begin_micro(i);
      loss_sum[0] += model_->forward_backward(Batch(std::move(micro[static_cast<size_t>(i)]), device_));
      grad_sync_->end_micro(i);  // the last one leaves the gradient summed over ranks
    }
    dist_->all_reduce(loss_sum);
    double loss = loss_sum[0];
    if (cfg_.inject_nan_at_step == step) loss = NAN;  // test hook (debug.inject_nan_at_step)
    const double grad_norm = grad_sync_->grad_norm();
    const double lr = schedule_->lr_at(step);

    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      const std::string what = fmt::format("step {}: non-finite {} (loss {}, grad norm {})", step,
                                           std::isfinite(loss) ? "gradient" : "loss", loss, grad_norm);
      if (cfg_.on_nonfinite == "error") {
        auto latest = latest_checkpoint(out_);
        throw std::runtime_error(what + "; stopping without writing a checkpoint (last good checkpoint: " +
                                 (latest ? latest->string() : std::string("none")) +
                                 "). Set train.on_nonfinite: skip to skip such steps.");
      }
      spdlog::warn("{}; skipping the update (train.on_nonfinite: skip)", what);
      ++state_.skipped_steps;
      metrics_.write({{"step", step}, {"skipped", true}, {"lr", lr}});
    } else {
      optimizer_->step(lr, clip_scale(grad_norm, cfg_.grad_clip));
      grad_sync_->gather_params();  // ZeRO-1: the other shards' new weights
    }
    if (kill_rank_ < 0 || kill_rank_ == dist_->rank()) {  // test hooks: a crash or a hang after the update
      if (cfg_.kill_at_step == step) ::raise(SIGKILL);
      if (hang_at_step_ == step)
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    }
    state_.step = step;
    state_.tokens_seen += tokens;
    ++steps_this_run;
    dist_->mark_progress(step);
    if (step == result.first_step) result.first_loss = loss;
    result.last_loss = loss;

    const double step_s = seconds_since(t0);
    const double tok_s = static_cast<double>(tokens) / std::max(step_s, 1e-9);
    if (std::isfinite(loss)) {
      metrics_.write({{"step", step},
                      {"loss", loss},
                      {"lr", lr},
                      {"grad_norm", grad_norm},
                      {"tokens", tokens},
                      {"tokens_seen", state_.tokens_seen},
                      {"tokens_per_s", tok_s},
                      {"ranks", dist_->world()},
                      {"step_s", step_s},
                      {"epoch", global.epoch}});
    }
    if (step % cfg_.log_every == 0 || step == last) {
      ProgressInfo p;
      p.step = step;
      p.total_steps = total_steps_;
      p.loss = loss;
      p.lr = lr;
      p.grad_norm = grad_norm;
      p.tokens_per_s = tok_s;
      if (device_ == Device::CUDA) {
        p.mfu = model_flops_utilisation(tok_s / dist_->world(), fpt);  // per GPU
        if (const int64_t used = cuda_memory_in_use(); used >= 0) p.memory_bytes = used;
      } else {
        p.memory_bytes = resident_memory_bytes();
      }
      p.eta_s = eta_seconds(seconds_since(run_start), steps_this_run, total_steps_ - step);
      spdlog::info("{}", format_progress(p));
    }
    if (cfg_.eval_every > 0 && (step % cfg_.eval_every == 0 || step == total_steps_)) {
      const double eval_loss = evaluate();
      spdlog::info("eval step {}: loss {:.4f}", step, eval_loss);
      metrics_.write({{"step", step}, {"eval_loss", eval_loss}});
    }
    saved_last = false;
    if ((cfg_.checkpoint_every > 0 && step % cfg_.checkpoint_every == 0) || (step == last && save_at_end_)) {
      result.last_checkpoint = save();
      saved_last = true;
    }
  }
  if (!saved_last && state_.step > 0) {
    if (auto latest = latest_checkpoint(out_)) result.last_checkpoint = *latest;
  }
  result.last_step = state_.step;
  if (state_.step == total_steps_ && cfg_.export_at_end) {
    Tensor master = optimizer_->master();
    OwnedTensor full_master;
    if (grad_sync_->shard().size() != store.padded_numel()) {  // ZeRO-1: every rank takes part
      full_master = OwnedTensor({store.padded_numel()}, DType::F32, device_);
      grad_sync_->gather_full(master, full_master);
      master = full_master;
    }
    if (!is_root()) return;
    HfExportOptions eo;
    eo.store_dtype = cfg_.precision == "bf16" ? DType::BF16 : DType::F32;
    eo.tokenizer_src_dir = cfg_.tokenizer_dir;
    eo.overwrite = true;
    const fs::path final_dir = out_ / "final";
    export_hf_folder(final_dir.string(), model_->config(), master_views(store, master), eo);
    spdlog::info("exported {} (Hugging Face folder)", final_dir.string());
  }
}

}  // namespace wm
