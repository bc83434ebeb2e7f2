#!/usr/bin/env bash
# Everything the GPU machine is needed for, in ONE call, from the binaries packed by
# tools/gpu_bundle.sh (nothing is compiled there). Each part runs under its own `timeout`, logs to
# $OUT/<part>.log and cannot stop the others; a summary is printed at the end.
#   env       nvidia-smi, `wemask version`, unresolved libraries
#   tests     wemask_tests --gtest_filter='Cuda*:*Cuda*:Cudnn*:HfParity*'        (the GPU tests)
#   roundtrip tests/fixtures/export_roundtrip_check.py (export -> transformers, issue 2)
#   sft       configs/qwen3_0.6b_shape_sft.yaml, 50 steps, WeMask off then on (issue 5)
#   bench     bench_model_step, WeMask off vs on on one model (issue 6)
#   analyze   wemask analyze on a random 1.7B-shape model with a PLANTED massive activation
# GPU call: run(command="bash tools/gpu_session.sh", carry=[".devcarry/bundle"])
# Env: WEMASK_PARTS (default: all of the above), WEMASK_SFT_STEPS (50), OUT (default out/gpu_session).
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${WEMASK_BUNDLE:-$PWD/.devcarry/bundle}"
OUT="${OUT:-$PWD/out/gpu_session}"
PARTS="${WEMASK_PARTS:-env tests roundtrip sft bench analyze}"
mkdir -p "$OUT"
if [ ! -d "$BUNDLE/bin" ]; then tar -C "$BUNDLE" -xJf "$BUNDLE/payload.tar.xz" || { echo "cannot unpack the bundle"; exit 2; }; fi
# shellcheck source=/dev/null
source "$BUNDLE/env.sh"
WEMASK="$BUNDLE/bin/wemask"
# The tests find fixtures and the wemask binary through paths compiled in (/work/main/...).
if [ ! -e /work/main ]; then mkdir -p /work && ln -s "$PWD" /work/main; fi
[ -e build-cuda/wemask ] || { mkdir -p build-cuda && ln -s "$WEMASK" build-cuda/wemask; }
[ -e assets/qwen3-tokenizer ] || { mkdir -p assets && ln -s "$BUNDLE/assets/qwen3-tokenizer" assets/qwen3-tokenizer; }
: > "$OUT/summary.txt"

part() {  # name timeout_s command...
  local name="$1" limit="$2"; shift 2
  case " $PARTS " in *" $name "*) ;; *) return 0 ;; esac
  local t0 rc; t0=$(date +%s.%N)
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" bash -c "$*" > "$OUT/$name.log" 2>&1; rc=$?
  local dt; dt=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
  echo "$name rc=$rc seconds=$dt" | tee -a "$OUT/summary.txt"
  tail -5 "$OUT/$name.log"
}

env_part() {
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$WEMASK" version
  for b in "$BUNDLE"/bin/*; do echo "$(basename "$b"): $(ldd "$b" | grep -c 'not found') unresolved"; ldd "$b" | grep 'not found'; done
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
}

tests_part() {
  "$BUNDLE/bin/wemask_tests" --gtest_filter='Cuda*:*Cuda*:Cudnn*:HfParity*'
  # the tokenizer against the bundle's ICU (stub data library): NFC and the HF goldens
  "$BUNDLE/bin/wemask_tests" --gtest_filter='Tokenizer.MatchesHfGoldenIds:Tokenizer.RoundTrip:ChatTemplate.IdsMatchHfGolden'
}

roundtrip_part() { python3 tests/fixtures/export_roundtrip_check.py "$WEMASK"; }

# One SFT run with the GPU memory sampled every 200 ms; $1 = name, the rest = --set overrides.
sft_run() {
  local name="$1"; shift
  local dir="$OUT/sft_$name" run="/tmp/wemask_sft_$name"  # checkpoints (GiBs) stay out of $OUT
  rm -rf "$dir" "$run"; mkdir -p "$dir"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$dir/gpu_memory_mib.txt" &
  local smi=$!
  "$WEMASK" train configs/qwen3_0.6b_shape_sft.yaml --set output_dir="$run" \
      --set data.tokenizer="$BUNDLE/assets/qwen3-tokenizer" --set data.train_file="$SFT_DATA" \
      --set train.max_steps="${WEMASK_SFT_STEPS:-50}" "$@"
  local rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  cp "$run/metrics.jsonl" "$dir/metrics.jsonl" 2>/dev/null
  rm -rf "$run"
  python3 tools/sft_metrics_summary.py "$dir/metrics.jsonl" "$dir/gpu_memory_mib.txt" "$name" | tee "$dir/summary.json"
  return $rc
}

sft_part() {
  SFT_DATA="$BUNDLE/data/gsm8k_train.jsonl"
  [ -f "$SFT_DATA" ] || SFT_DATA=data/samples/gsm8k_train_500.jsonl
  export SFT_DATA
  sft_run wemask_off; local a=$?
  sft_run wemask_on --set wemask.enabled=true; local b=$?
  return $(( a != 0 || b != 0 ))
}

bench_part() {
  "$BUNDLE/bin/bench_model_step" 0.6B 8 2048 0 6 0.01
  "$BUNDLE/bin/bench_model_step" 1.7B 4 2048 0 6 0.01
}

analyze_part() {
  local model=/tmp/wemask_planted_1.7b
  rm -rf "$model" "$OUT/analyze_1.7b"
  python3 tools/make_planted_qwen3.py --output "$model" --shape 1.7B --me-layer 5 || return 1
  local t0; t0=$(date +%s.%N)
  "$WEMASK" analyze --model "$model" --output "$OUT/analyze_1.7b" --device cuda \
      --tokenizer "$BUNDLE/assets/qwen3-tokenizer"
  local rc=$?
  python3 -c "import time; print(f'analyze_seconds {time.time() - $t0:.2f}')"
  return $rc
}

export BUNDLE OUT WEMASK
export -f env_part tests_part roundtrip_part sft_run sft_part bench_part analyze_part
part env 30 env_part
part tests 90 tests_part
part roundtrip 60 roundtrip_part
part bench 70 bench_part
part analyze 120 analyze_part
part sft 220 sft_part

# The run tool brings back only a few files: everything below $OUT's top level goes as one archive.
( cd "$OUT" && dirs=$(find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n') &&
  [ -n "$dirs" ] && tar -czf results.tar.gz $dirs && rm -rf $dirs )

echo "==== summary"
cat "$OUT/summary.txt"
grep -hE '^\[  (PASSED|FAILED|SKIPPED) |tests? from .* ran' "$OUT/tests.log" 2>/dev/null
grep -h 'cases passed\|max |' "$OUT/roundtrip.log" 2>/dev/null
cat "$OUT"/sft_*/summary.json 2>/dev/null
grep -h 'wemask_overhead\|tokens_per_s' "$OUT/bench.log" 2>/dev/null
grep -hE 'planted_qwen3|analyze_seconds|ME layer|me_layer' "$OUT/analyze.log" 2>/dev/null | head -8
