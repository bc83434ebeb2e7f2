#!/usr/bin/env bash
# The GRPO GPU run (issue 8) from the binaries packed by tools/gpu_bundle.sh: 20 steps of
# configs/qwen3_0.6b_shape_grpo.yaml (random 0.6B shape, real tokenizer, GSM8K prompts, WeMask on),
# then the mean rollout / training tokens/s over steps 2..20 (step 1 includes warm-up).
# GPU call: run(command="bash tools/gpu_grpo.sh", carry=[".devcarry/bundle"])
# Env: OUT (default out/gpu_grpo; the run itself goes to out/gpu_grpo_run), WEMASK_GRPO_TIMEOUT (360 s; the summary covers the steps done); extra args are passed to wemask grpo (e.g. --set train.max_steps=5).
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE="$PWD/.devcarry/bundle"
OUT="${OUT:-$PWD/out/gpu_grpo}"
RUN="$PWD/out/gpu_grpo_run"  # checkpoints (GBs) stay out of $OUT; metrics are copied there
mkdir -p "$OUT"
if [ ! -d "$BUNDLE/bin" ]; then tar -C "$BUNDLE" -xJf "$BUNDLE/payload.tar.xz" || { echo "cannot unpack the bundle"; exit 2; }; fi
# shellcheck source=/dev/null
source "$BUNDLE/env.sh"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
timeout "${WEMASK_GRPO_TIMEOUT:-360}" "$BUNDLE/bin/wemask" grpo configs/qwen3_0.6b_shape_grpo.yaml \
  --set data.tokenizer="$BUNDLE/assets/qwen3-tokenizer" --set output_dir="$RUN" "$@" 2>&1 | tee "$OUT/grpo.log"
rc=${PIPESTATUS[0]}
cp "$RUN/metrics.jsonl" "$RUN/config.yaml" "$OUT/" 2>/dev/null
ls -la "$RUN/checkpoints" 2>/dev/null | tee "$OUT/checkpoints.txt"
[ -f "$OUT/metrics.jsonl" ] || { echo "no metrics written (rc $rc)"; exit "$rc"; }
python3 - "$OUT/metrics.jsonl" <<'PY' | tee "$OUT/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"steps completed: {len(rows)}")
if not rows: sys.exit(0)
body = rows[1:] if len(rows) > 1 else rows
mean = lambda k: sum(r[k] for r in body) / len(body)
print(f"steps {body[0]['step']}..{body[-1]['step']}: rollout {mean('rollout_tokens_per_s'):.0f} tok/s "
      f"(generated tokens / rollout time), train {mean('train_tokens_per_s'):.0f} tok/s "
      f"(prompt+response tokens / training time incl. old+ref log-prob passes)")
print(f"time per step: rollout {mean('rollout_s'):.2f} s, train {mean('train_s'):.2f} s; "
      f"response length {mean('response_length_mean'):.1f}; reward {mean('reward_mean'):.3f}; kl {mean('kl'):.5f}; "
      f"clip {mean('clip_fraction'):.4f}; entropy {mean('entropy'):.3f}")
PY
exit "$rc"
