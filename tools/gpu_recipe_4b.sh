#!/usr/bin/env bash
# The paper's SFT recipe shape on the GPUs of one node, in ONE call (issue 9 prep; runs on any
# number of GPUs that is lent): a random-init Qwen3-4B-shape HF folder (written by transformers on
# GPU 0), GSM8K packed to seq 4096, global batch 64 rows, micro-batch 1, bf16 with fp32 master
# weights, recompute (MLP half), for WEMASK_RECIPE_STEPS steps:
#   one    1 GPU (64 accumulation steps)
#   zero1  all GPUs, train.zero_stage=1 (64 / N accumulation steps per rank)
# Prints tokens/s per GPU (median over the steps after the first), the per-GPU efficiency of zero1
# against one, which bounds the share of step time spent in communication not hidden behind
# compute (1 - efficiency; the two runs do the same work per token), and peak memory per GPU
# (nvidia-smi sampled every 200 ms). From the binaries of tools/gpu_bundle.sh:
#   run(kind="nvidia-h200-x2", command="bash tools/gpu_recipe_4b.sh", carry=[".devcarry/bundle"])
# Env: WEMASK_RECIPE_STEPS (4), OUT (default out/gpu_recipe_4b), WEMASK_BUNDLE.
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE="$(cd "${WEMASK_BUNDLE:-.devcarry/bundle}" && pwd)"
OUT="${OUT:-$PWD/out/gpu_recipe_4b}"
WORK=/tmp/wemask_recipe_4b
STEPS="${WEMASK_RECIPE_STEPS:-4}"
mkdir -p "$OUT"; rm -rf "$WORK"; mkdir -p "$WORK"
if [ ! -d "$BUNDLE/bin" ]; then tar -C "$BUNDLE" -xJf "$BUNDLE/payload.tar.xz" || { echo "cannot unpack the bundle"; exit 2; }; fi
# shellcheck source=/dev/null
source "$BUNDLE/env.sh"
WEMASK="$BUNDLE/bin/wemask"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # KINDS.md
GPUS=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader

MODEL=/tmp/wemask_recipe_4b_model
t0=$(date +%s)
timeout 150 python3 - "$MODEL" <<'PY' || { echo "could not write the random 4B-shape model"; exit 3; }
import sys, torch
from transformers import Qwen3Config, Qwen3ForCausalLM
cfg = Qwen3Config(vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True,
                  max_position_embeddings=40960, rope_theta=1000000.0, rms_norm_eps=1e-6,
                  use_sliding_window=False)
torch.manual_seed(0)
with torch.device("cuda"):
    model = Qwen3ForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(sys.argv[1], safe_serialization=True)
print("random model:", sum(p.numel() for p in model.parameters()) / 1e9, "B parameters")
PY
echo "model written in $(( $(date +%s) - t0 )) s"

DATA="$BUNDLE/data/gsm8k_train.jsonl"
[ -f "$DATA" ] || DATA=data/samples/gsm8k_train_500.jsonl
cat > "$WORK/recipe.yaml" <<YAML
model:
  path: $MODEL
data:
  train_file: $DATA
  tokenizer: $BUNDLE/assets/qwen3-tokenizer
  format: prompt_response
  prompt_key: question
  response_key: response
  max_length: 4096
  pack: true
train:
  micro_batch_size: 1
  global_batch_size: 64
  max_steps: $STEPS
  grad_clip: 1.0
  precision: bf16
  recompute: true
  recompute_scope: mlp
  device: cuda
  seed: 42
optim:
  lr: 2.0e-5
  weight_decay: 0.0
schedule:
  type: cosine
  warmup_steps: 1
checkpoint:
  every_steps: 0
  save_at_end: false
  resume: none
  export_at_end: false
logging:
  every_steps: 1
YAML

run_case() {  # name gpus limit overrides...
  local name="$1" gpus="$2" limit="$3"; shift 3
  local dir="$WORK/$name" run="/tmp/wemask_recipe_runs/$name"
  rm -rf "$dir" "$run"; mkdir -p "$dir"
  nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 200 > "$dir/gpu_memory_mib.csv" &
  local smi=$! rc
  if [ "$gpus" = 1 ]; then
    CUDA_VISIBLE_DEVICES=0 timeout --kill-after=10 "$limit" "$WEMASK" train "$WORK/recipe.yaml" \
      --set output_dir="$run" "$@" > "$dir/train.log" 2>&1
  else
    MASTER_PORT=$((29500 + RANDOM % 1000)) timeout --kill-after=10 "$limit" launch/run --gpus "$gpus" --bin "$WEMASK" \
      "$WORK/recipe.yaml" --set output_dir="$run" "$@" > "$dir/train.log" 2>&1
  fi
  rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  cp "$run/metrics.jsonl" "$dir/metrics.jsonl" 2>/dev/null
  rm -rf "$run"
  echo "$name rc=$rc"; grep -E "error|done:" "$dir/train.log" | head -5; tail -2 "$dir/train.log"
}

run_case one 1 "${WEMASK_RECIPE_LIMIT_ONE:-200}"
[ "$GPUS" -gt 1 ] && run_case zero1 "$GPUS" "${WEMASK_RECIPE_LIMIT_N:-160}" --set train.zero_stage=1

python3 - "$WORK" "$GPUS" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys, os
work, gpus = sys.argv[1], int(sys.argv[2])
def rate(name):
    p = os.path.join(work, name, "metrics.jsonl")
    if not os.path.exists(p): return None, None
    rows = [json.loads(l) for l in open(p) if l.strip()]
    rows = [r for r in rows if "tokens_per_s" in r]
    steady = rows[1:] or rows
    return (statistics.median(r["tokens_per_s"] for r in steady) if steady else None), rows
def peak(name):
    p = os.path.join(work, name, "gpu_memory_mib.csv")
    best = {}
    for line in open(p) if os.path.exists(p) else []:
        try: i, m = (int(x) for x in line.split(","))
        except ValueError: continue
        best[i] = max(best.get(i, 0), m)
    return best
print("| run | GPUs | tokens/s (all GPUs) | tokens/s per GPU | step s | loss first → last | peak MiB per GPU |")
print("|---|---|---|---|---|---|---|")
per = {}
for name, n in (("one", 1), ("zero1", gpus)):
    r, rows = rate(name)
    if r is None: print(f"| {name} | {n} | not run / failed | | | | |"); continue
    per[name] = r / n
    step = statistics.median(x["step_s"] for x in rows[1:] or rows)
    pk = peak(name)
    print(f"| {name} | {n} | {r:,.0f} | {r / n:,.0f} | {step:.2f} | {rows[0]['loss']:.3f} → {rows[-1]['loss']:.3f} | "
          + ", ".join(f"{pk[i]:,}" for i in sorted(pk) if pk[i] > 1000) + " |")
if "one" in per and "zero1" in per:
    eff = per["zero1"] / per["one"]
    print(f"\nper-GPU efficiency zero1 / one: {eff:.1%}; communication not hidden behind compute: at most {max(0.0, 1 - eff):.1%} of the step")
PY
tar -C "$WORK" -czf "$OUT/logs.tar.gz" one zero1 2>/dev/null
