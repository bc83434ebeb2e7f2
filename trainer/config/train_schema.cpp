#include "trainer/config/train_schema.h"

namespace wm::config {

namespace {

using VT = ValueType;
using V = ConfigValue;
constexpr double kBig = 1e18;

KeySpec key(std::string path, VT type, V def, std::string doc) {
  KeySpec k;
  k.path = std::move(path);
  k.type = type;
  k.default_value = std::move(def);
  k.doc = std::move(doc);
  return k;
}
KeySpec ranged(std::string path, VT type, V def, double lo, double hi, std::string doc) {
  KeySpec k = key(std::move(path), type, std::move(def), std::move(doc));
  k.min = lo;
  k.max = hi;
  return k;
}
KeySpec choice(std::string path, V def, std::vector<std::string> choices, std::string doc,
               VT type = VT::Enum) {
  KeySpec k = key(std::move(path), type, std::move(def), std::move(doc));
  k.choices = std::move(choices);
  return k;
}
KeySpec path_key(std::string path, PathCheck check, std::string doc) {
  KeySpec k = key(std::move(path), VT::String, std::monostate{}, std::move(doc));
  k.path_check = check;
  return k;
}
V i(int64_t x) { return x; }
V f(double x) { return x; }
V s(const char* x) { return std::string(x); }

std::vector<KeySpec> sft_keys() {
  std::vector<KeySpec> k;
  // ---- model
  k.push_back(path_key("model.path", PathCheck::ExistingDir,
                       "HF model folder (config.json + *.safetensors); unset: random init from model.config"));
  k.push_back(ranged("model.init_seed", VT::Int, i(0), 0, kBig, "seed of the random init (model.config)"));
  k.push_back(ranged("model.config.vocab_size", VT::Int, V{}, 1, kBig, "random init: vocabulary size"));
  k.push_back(ranged("model.config.hidden_size", VT::Int, V{}, 1, kBig, "random init: hidden size"));
  k.push_back(ranged("model.config.intermediate_size", VT::Int, V{}, 1, kBig, "random init: MLP size"));
  k.push_back(ranged("model.config.num_hidden_layers", VT::Int, V{}, 1, 1024, "random init: layers"));
  k.push_back(ranged("model.config.num_attention_heads", VT::Int, V{}, 1, 1024, "random init: query heads"));
  k.push_back(ranged("model.config.num_key_value_heads", VT::Int, V{}, 1, 1024, "random init: kv heads"));
  k.push_back(ranged("model.config.head_dim", VT::Int, V{}, 1, 4096, "random init: head dim"));
  k.push_back(ranged("model.config.max_position_embeddings", VT::Int, i(40960), 1, kBig, "random init: max positions"));
  k.push_back(ranged("model.config.rope_theta", VT::Float, f(1e6), 1, 1e12, "random init: RoPE base"));
  k.push_back(ranged("model.config.rms_norm_eps", VT::Float, f(1e-6), 0, 1, "random init: RMSNorm eps"));
  k.push_back(key("model.config.tie_word_embeddings", VT::Bool, true, "random init: lm_head tied to embeddings"));
  // ---- data
  k.push_back(path_key("data.train_file", PathCheck::ExistingFile, "training JSONL (required)"));
  k.push_back(path_key("data.valid_file", PathCheck::ExistingFile, "validation JSONL (needed when eval.every_steps > 0)"));
  k.push_back(path_key("data.tokenizer", PathCheck::ExistingDir,
                       "folder with tokenizer.json + tokenizer_config.json (default: model.path)"));
  k.push_back(choice("data.format", s("prompt_response"), {"chat", "prompt_response", "text", "tokens"},
                     "training file format (see data/dataset.h)"));
  k.push_back(choice("data.loss_mask", s("assistant"), {"assistant", "last_turn", "completion_only", "all"},
                     "which tokens of a chat carry loss"));
  k.push_back(key("data.ids_key", VT::String, s("input_ids"), "tokens format: JSONL field with the token ids"));
  k.push_back(key("data.prompt_key", VT::String, s("question"), "JSONL field holding the user prompt"));
  k.push_back(key("data.response_key", VT::String, s("response"), "JSONL field holding the assistant response"));
  k.push_back(ranged("data.max_length", VT::Int, i(4096), 8, 1 << 20, "sequence length (tokens per packed row)"));
  k.push_back(ranged("data.max_examples", VT::Int, i(0), 0, kBig, "use only the first N examples (0: all)"));
  k.push_back(key("data.shuffle", VT::Bool, true, "shuffle examples each epoch (seeded by train.seed)"));
  k.push_back(key("data.pack", VT::Bool, true, "pack several examples per row (documents kept apart)"));
  // ---- train
  k.push_back(ranged("train.micro_batch_size", VT::Int, i(1), 1, 1 << 20, "rows per forward/backward"));
  k.push_back(ranged("train.global_batch_size", VT::Int, i(64), 1, 1 << 24,
                     "rows per optimizer step (multiple of micro_batch_size; accumulation derived)"));
  k.push_back(ranged("train.epochs", VT::Float, f(1), 0, 1e6, "passes over the training data (ignored when max_steps > 0)"));
  k.push_back(ranged("train.max_steps", VT::Int, i(0), 0, kBig, "optimizer steps (0: from epochs)"));
  k.push_back(ranged("train.grad_clip", VT::Float, f(1.0), 0, 1e9, "max global grad norm (0: no clipping)"));
  k.push_back(choice("train.precision", s("bf16"), {"bf16", "fp32"}, "compute dtype of weights/activations"));
  k.push_back(key("train.recompute", VT::Bool, false, "recompute layer activations in backward"));
  k.push_back(choice("train.recompute_scope", s("layer"), {"layer", "mlp"},
                     "with recompute: keep only each layer's input (layer), or also its attention half "
                     "and recompute only the MLP (mlp: more memory, less recompute)"));
  k.push_back(ranged("train.seed", VT::Int, i(1234), 0, kBig, "seed of data order and other randomness"));
  k.push_back(choice("train.device", s("auto"), {"auto", "cpu", "cuda"}, "where to train (auto: cuda when present)"));
  k.push_back(choice("train.on_nonfinite", s("error"), {"error", "skip"},
                     "NaN/Inf loss or gradient: stop with an error, or skip the step"));
  k.push_back(ranged("train.threads", VT::Int, i(0), 0, 4096, "CPU threads (0: OpenMP default)"));
  k.push_back(ranged("train.zero_stage", VT::Int, i(0), 0, 1,
                     "data parallel: 0 = plain (gradients all-reduced), 1 = ZeRO-1 (AdamW state sharded by rank)"));
  // ---- dist (data parallelism; ranks come from RANK/WORLD_SIZE, OMPI_* or SLURM_*: docs/multi_node.md)
  k.push_back(ranged("dist.timeout_s", VT::Int, i(300), 1, 86400,
                     "every rank exits with an error naming the failed rank when a peer is silent this long"));
  k.push_back(ranged("dist.bucket_mb", VT::Int, i(64), 1, 1 << 20,
                     "gradient all-reduce bucket size (whole layers; overlapped with the backward)"));
  k.push_back(key("dist.exact_accumulation", VT::Bool, true,
                  "accumulate micro-batch gradients in a separate buffer so that N ranks x 1 micro-batch equal "
                  "1 rank x N micro-batches bit for bit (false saves one gradient buffer)"));
  // ---- optim
  k.push_back(ranged("optim.lr", VT::Float, f(2e-5), 0, 10, "peak learning rate (AdamW)"));
  KeySpec betas = ranged("optim.betas", VT::FloatList, V{std::vector<double>{0.9, 0.999}}, 0, 0.999999,
                         "AdamW betas [beta1, beta2]");
  betas.list_size = 2;
  k.push_back(betas);
  k.push_back(ranged("optim.eps", VT::Float, f(1e-8), 0, 1, "AdamW epsilon"));
  k.push_back(ranged("optim.weight_decay", VT::Float, f(0.0), 0, 10, "decoupled weight decay"));
  k.push_back(key("optim.no_decay_norms_and_embeddings", VT::Bool, true,
                  "exclude RMSNorm weights and embeddings from weight decay"));
  // ---- schedule
  k.push_back(choice("schedule.type", s("cosine"), {"constant", "linear", "cosine"}, "LR schedule after warm-up"));
  k.push_back(ranged("schedule.warmup_ratio", VT::Float, f(0.0), 0, 1, "warm-up as a fraction of total steps"));
  k.push_back(ranged("schedule.warmup_steps", VT::Int, i(0), 0, kBig, "warm-up steps (overrides warmup_ratio when > 0)"));
  k.push_back(ranged("schedule.min_lr", VT::Float, f(0.0), 0, 10, "LR at the end of linear/cosine decay"));
  // ---- eval
  k.push_back(ranged("eval.every_steps", VT::Int, i(0), 0, kBig, "validation loss every N steps (0: never)"));
  k.push_back(ranged("eval.max_batches", VT::Int, i(0), 0, kBig, "validation micro-batches per eval (0: all)"));
  // ---- checkpoint
  k.push_back(ranged("checkpoint.every_steps", VT::Int, i(0), 0, kBig, "save every N steps (0: only at the end)"));
  k.push_back(ranged("checkpoint.keep_last", VT::Int, i(3), 1, 1000000, "keep the newest K checkpoints"));
  k.push_back(key("checkpoint.resume", VT::String, s("none"),
                  "none | auto (newest complete checkpoint in output_dir) | a checkpoint folder"));
  k.push_back(key("checkpoint.export_at_end", VT::Bool, true, "write an HF folder to output_dir/final at the end"));
  k.push_back(key("checkpoint.save_at_end", VT::Bool, true,
                  "write a checkpoint when the run stops (false: only every_steps; e.g. throughput runs)"));
  // ---- output
  k.push_back(key("output_dir", VT::String, s("out/run"), "where checkpoints, metrics and the export go"));
  // ---- wemask
  k.push_back(key("wemask.enabled", VT::Bool, false, "apply WeMask during training"));
  k.push_back(choice("wemask.me_layer", s("auto"), {"auto"}, "ME layer index, or auto (detected)", VT::IntOrEnum));
  k.back().min = 0;
  k.back().max = 1024;
  k.push_back(choice("wemask.layers", s("from_me"), {"from_me", "me_only"},
                     "from_me (ME layer..last), me_only, or an explicit list of layers", VT::IntListOrEnum));
  k.back().min = 0;
  k.back().max = 1024;
  k.push_back(ranged("wemask.mask_rate", VT::Float, f(0.01), 0, 1, "fraction of hidden dims masked"));
  k.push_back(ranged("wemask.gamma", VT::Float, f(1.0), 0, 1, "masked entries are scaled by 1 - gamma"));
  k.push_back(choice("wemask.select", s("activation"), {"activation", "norm_weight"},
                     "rank dims by mean |activation| of sink rows or by the RMSNorm weight"));
  k.push_back(choice("wemask.tokens", s("first_of_each_document"), {"first_of_each_document"},
                     "which rows are sinks"));
  // ---- logging
  k.push_back(choice("logging.level", s("info"), {"trace", "debug", "info", "warn", "error"}, "spdlog level"));
  k.push_back(ranged("logging.every_steps", VT::Int, i(1), 1, kBig, "progress line every N steps"));
  k.push_back(key("logging.metrics_file", VT::String, s("metrics.jsonl"), "JSONL metrics (relative to output_dir)"));
  // ---- test hooks
  k.push_back(ranged("debug.inject_nan_at_step", VT::Int, i(0), 0, kBig,
                     "test hook: poison the loss of this step with NaN (0: off)"));
  k.push_back(ranged("debug.kill_at_step", VT::Int, i(0), 0, kBig,
                     "test hook: SIGKILL this process right after the update of this step (0: off)"));
  k.push_back(ranged("debug.hang_at_step", VT::Int, i(0), 0, kBig,
                     "test hook: this process stops responding (sleeps forever) after the update of this step (0: off)"));
  k.push_back(ranged("debug.kill_rank", VT::Int, i(-1), -1, 1 << 20,
                     "test hook: only this rank obeys debug.kill_at_step / debug.hang_at_step (-1: every rank)"));
  return k;
}

}  // namespace

const Schema& sft_schema() {
  static const Schema schema(sft_keys());
  return schema;
}

}  // namespace wm::config
