#!/usr/bin/env bash
# Data parallelism on a 2-GPU node in ONE call (issue 7), from the binaries packed by
# tools/gpu_bundle.sh (nothing is compiled there):
#   model   a random-init Qwen3 with the 1.7B shape (hidden 2048, intermediate 6144, 28 layers,
#           16/8 heads, head_dim 128, vocab 151936, tied embeddings), written once as an HF folder
#           by transformers on the GPU (wemask's own random init runs on the host: too slow here)
#   one     1 GPU:                 micro 4 x accumulation 4           = global 16 rows of 2048 tokens
#   dp      2 GPUs, plain DP:      micro 4 x accumulation 2 x 2 ranks = global 16
#   zero1   2 GPUs, ZeRO-1:        the same, AdamW state sharded (it also exports the HF folder at
#           the end, which gathers the sharded master weights on the GPUs)
#   fail    2 GPUs, a tiny model, rank 1 killed after step 3: rank 0's exit time and message
# Same data order in the three runs (GSM8K chain-of-thought, packed rows, bf16). Prints tokens/s
# per GPU (median over the steps after the first 3), scaling efficiency (per-GPU tokens/s of 2 GPUs
# / 1 GPU), peak memory per GPU (nvidia-smi sampled every 200 ms) and the largest loss difference.
# Everything is written under $WORK; $OUT gets 6 files (the device tool returns at most 8):
# summary.md, loss_overlay.svg (`wemask plot A B C`), {one,dp,zero1}_metrics.jsonl, logs.tar.gz.
# GPU call: run(kind="nvidia-h200-x2", command="bash tools/gpu_dp_session.sh", carry=[".devcarry/bundle"])
# Env: WEMASK_DP_STEPS (20), WEMASK_DP_GLOBAL (16 rows per step), WEMASK_DP_SKIP_FAIL (0), OUT (default out/gpu_dp), WEMASK_BUNDLE (default .devcarry/bundle).
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE="$(cd "${WEMASK_BUNDLE:-.devcarry/bundle}" && pwd)"
OUT="${OUT:-$PWD/out/gpu_dp}"
WORK=/tmp/wemask_dp_work
STEPS="${WEMASK_DP_STEPS:-20}"
GLOBAL="${WEMASK_DP_GLOBAL:-16}"  # rows of 2048 tokens per optimizer step (micro-batch 4 rows)
# time limits grow with the work per run: ~0.1 s per row of 2048 tokens on one H200
LIMIT_ONE=$((60 + STEPS * GLOBAL / 8)); LIMIT_TWO=$((60 + STEPS * GLOBAL / 16))
mkdir -p "$OUT"; rm -rf "$WORK"; mkdir -p "$WORK"
if [ ! -d "$BUNDLE/bin" ]; then tar -C "$BUNDLE" -xJf "$BUNDLE/payload.tar.xz" || { echo "cannot unpack the bundle"; exit 2; }; fi
# shellcheck source=/dev/null
source "$BUNDLE/env.sh"
WEMASK="$BUNDLE/bin/wemask"
# Never NVLink multicast on the shared host (KINDS.md).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
"$WEMASK" version

MODEL=/tmp/wemask_dp_1.7b
t0=$(date +%s)
MODEL_KEYS="  path: $MODEL"
if ! timeout 90 python3 - "$MODEL" <<'PY'
import sys, torch
from transformers import Qwen3Config, Qwen3ForCausalLM
cfg = Qwen3Config(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                  num_attention_heads=16, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True,
                  max_position_embeddings=40960, rope_theta=1000000.0, rms_norm_eps=1e-6,
                  use_sliding_window=False)
torch.manual_seed(0)
with torch.device("cuda"):
    model = Qwen3ForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(sys.argv[1], safe_serialization=True)
print("random model:", sum(p.numel() for p in model.parameters()) / 1e9, "B parameters")
PY
then
  echo "could not write the random 1.7B-shape model: wemask's own (slower) random init instead"
  MODEL_KEYS="  config: {vocab_size: 151936, hidden_size: 2048, intermediate_size: 6144, num_hidden_layers: 28,
    num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, tie_word_embeddings: true}"
fi
echo "model written in $(( $(date +%s) - t0 )) s"

DATA="$BUNDLE/data/gsm8k_train.jsonl"
[ -f "$DATA" ] || DATA=data/samples/gsm8k_train_500.jsonl
cat > "$WORK/dp_1.7b.yaml" <<YAML
model:
$MODEL_KEYS
data:
  train_file: $DATA
  tokenizer: $BUNDLE/assets/qwen3-tokenizer
  format: prompt_response
  prompt_key: question
  response_key: response
  max_length: 2048
  pack: true
train:
  micro_batch_size: 4
  global_batch_size: $GLOBAL
  max_steps: $STEPS
  grad_clip: 1.0
  precision: bf16
  device: cuda
  seed: 1234
optim:
  lr: 3.0e-4
  betas: [0.9, 0.95]
  weight_decay: 0.01
schedule:
  type: cosine
  warmup_steps: 5
  min_lr: 3.0e-5
checkpoint:
  every_steps: 0
  save_at_end: false
  resume: none
  export_at_end: false
logging:
  every_steps: 5
YAML

# $1 name, $2 number of GPUs, $3 time limit (s), the rest: --set overrides. Runs write to /tmp (big);
# metrics, logs and memory samples stay under $WORK/<name>.
run_case() {
  local name="$1" gpus="$2" limit="$3"; shift 3
  local dir="$WORK/$name" run="/tmp/wemask_dp_runs/$name"
  rm -rf "$dir" "$run"; mkdir -p "$dir"
  nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 200 > "$dir/gpu_memory_mib.csv" &
  local smi=$! rc
  if [ "$gpus" = 1 ]; then
    CUDA_VISIBLE_DEVICES=0 timeout --kill-after=10 "$limit" "$WEMASK" train "$WORK/dp_1.7b.yaml" \
      --set output_dir="$run" "$@" > "$dir/train.log" 2>&1
  else
    MASTER_PORT=$((29500 + RANDOM % 1000)) timeout --kill-after=10 "$limit" launch/run --gpus "$gpus" --bin "$WEMASK" \
      "$WORK/dp_1.7b.yaml" --set output_dir="$run" "$@" > "$dir/train.log" 2>&1
  fi
  rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  cp "$run/metrics.jsonl" "$dir/metrics.jsonl" 2>/dev/null
  ls "$run" "$run/final" 2>/dev/null | tr '\n' ' ' | sed "s/^/$name wrote: /"; echo
  rm -rf "$run"
  echo "$name rc=$rc"; grep -E "error|rank .* of|bucket|done:" "$dir/train.log" | head -8; tail -3 "$dir/train.log"
}

# A rank dies on the GPUs: a tiny random model on 2 GPUs, rank 1 SIGKILLs itself after step 3's
# update; rank 0 must stop within dist.timeout_s (10 s) naming rank 1 (NCCL abort path), and the
# step-2 checkpoint must be complete. The ranks are started by hand: launch/run would stop rank 0.
fail_case() {
  local dir="$WORK/fail" run=/tmp/wemask_dp_runs/fail port=$((30600 + RANDOM % 1000))
  rm -rf "$dir" "$run"; mkdir -p "$dir"
  cat > "$dir/tiny.yaml" <<TINY
model:
  config: {vocab_size: 151936, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2,
           num_attention_heads: 4, num_key_value_heads: 2, head_dim: 64}
data: {train_file: $DATA, tokenizer: $BUNDLE/assets/qwen3-tokenizer, format: prompt_response,
       prompt_key: question, response_key: response, max_length: 512, max_examples: 200}
train: {micro_batch_size: 1, global_batch_size: 2, max_steps: 10, precision: bf16, device: cuda}
dist: {timeout_s: 10}
checkpoint: {every_steps: 2, export_at_end: false}
debug: {kill_at_step: 3, kill_rank: 1}
TINY
  local t0 r
  t0=$(date +%s.%N)
  for r in 0 1; do
    ( RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout --kill-after=5 45 \
        "$WEMASK" train "$dir/tiny.yaml" --set output_dir="$run" > "$dir/rank$r.log" 2>&1
      echo "fail: rank $r exit $? at $(python3 -c "import time; print(f'{time.time() - $t0:.1f}')") s" ) &
  done
  wait
  grep -h "error" "$dir/rank0.log" | tail -2
  echo "fail: complete checkpoints: $(ls "$run/checkpoints" 2>/dev/null | tr '\n' ' ')"
  rm -rf "$run"
}

echo "global batch $GLOBAL rows x 2048 tokens, $STEPS steps"
run_case one 1 "$LIMIT_ONE"
run_case dp 2 "$LIMIT_TWO"
run_case zero1 2 "$LIMIT_TWO" --set train.zero_stage=1 --set checkpoint.export_at_end=true
[ "${WEMASK_DP_SKIP_FAIL:-0}" = 1 ] || fail_case 2>&1 | tee "$WORK/fail.txt"

python3 - "$WORK" <<'PY' | tee "$WORK/summary.md"
import json, statistics, sys, os
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name, "metrics.jsonl")
    if not os.path.exists(p): return None
    return [json.loads(l) for l in open(p) if l.strip()]
def peak(name):
    per = {}
    p = os.path.join(out, name, "gpu_memory_mib.csv")
    for line in open(p) if os.path.exists(p) else []:
        try: i, m = [int(x) for x in line.split(",")]
        except ValueError: continue
        per[i] = max(per.get(i, 0), m)
    return per
runs = {n: load(n) for n in ("one", "dp", "zero1")}
gpus = {"one": 1, "dp": 2, "zero1": 2}
rate = {}
print("| run | GPUs | steps | tokens/s (all GPUs) | tokens/s per GPU | scaling efficiency | peak memory per GPU (GiB) | final loss |")
print("|---|---|---|---|---|---|---|---|")
for n, recs in runs.items():
    if not recs: print(f"| {n} | {gpus[n]} | failed | | | | | |"); continue
    steps = [r for r in recs if "loss" in r]
    tps = [r["tokens_per_s"] for r in steps if r["step"] > 3]
    rate[n] = statistics.median(tps) if tps else float("nan")
    per_gpu = rate[n] / gpus[n]
    eff = per_gpu / rate["one"] if "one" in rate and gpus[n] > 1 else 1.0
    mem = peak(n)
    mem_s = " / ".join(f"{mem[i] / 1024:.1f}" for i in sorted(mem)[:gpus[n]])
    print(f"| {n} | {gpus[n]} | {len(steps)} | {rate[n]:.0f} | {per_gpu:.0f} | {eff * 100:.1f}% | {mem_s} | {steps[-1]['loss']:.4f} |")
base = {r["step"]: r["loss"] for r in (runs["one"] or []) if "loss" in r}
for n in ("dp", "zero1"):
    if not runs[n] or not base: continue
    d = [abs(r["loss"] - base[r["step"]]) for r in runs[n] if "loss" in r and r["step"] in base]
    print(f"\nmax |loss({n}) - loss(one)| over {len(d)} steps: {max(d):.2e}" if d else "")
if runs["dp"] and runs["zero1"]:
    dz = {r["step"]: r["loss"] for r in runs["dp"] if "loss" in r}
    d = [abs(r["loss"] - dz[r["step"]]) for r in runs["zero1"] if "loss" in r and r["step"] in dz]
    print(f"max |loss(zero1) - loss(dp)|: {max(d):.2e}" if d else "")
PY

files=(); labels=()
for n in one dp zero1; do
  if [ -f "$WORK/$n/metrics.jsonl" ]; then
    files+=("$WORK/$n/metrics.jsonl"); labels+=("$n"); cp "$WORK/$n/metrics.jsonl" "$OUT/${n}_metrics.jsonl"
  fi
done
if [ ${#files[@]} -gt 1 ]; then
  "$WEMASK" plot "${files[@]}" --labels "$(IFS=,; echo "${labels[*]}")" --title "1.7B shape, 1 vs 2 GPUs" \
    --output "$OUT/loss_overlay.svg"
fi
cat "$WORK/fail.txt" >> "$WORK/summary.md"
cp "$WORK/summary.md" "$OUT/summary.md"
tar -C "$WORK" -czf "$OUT/logs.tar.gz" .
ls -la "$OUT"
rm -rf "$MODEL"
