#!/usr/bin/env bash
# The issue-3 training benchmark in ONE GPU call (default budget 530 s): wemask's full training
# step (tools/bench_train_step.cpp) against PyTorch + HF transformers (tools/bench_train_torch.py:
# fp32 master + bf16 autocast, sdpa, fused AdamW), eager and under torch.compile, on the Qwen3
# shapes 0.6B (batch 8), 1.7B (batch 4), 4B (batch 2; wemask recomputing each layer's MLP half, and the whole layer for comparison; eager with gradient
# checkpointing) at seq 2048, random weights. Prints the table of tools/bench_train_table.py.
#
# The wemask binary: $WEMASK_BENCH_BIN, else build-bench/bench_train_step (built beforehand with
# `tools/bench_train.sh --build-only`: CMake libraries wemask_model + kernels, then one g++ link;
# carried to the GPU machine), else it is compiled on the spot with nvcc/g++ from kernels/, model/ and
# trainer/optim/ only (no PCRE2/ICU needed; nlohmann/fmt/spdlog headers from the system or a
# carried .devcarry/include), into build-bench-direct/ (also: `tools/bench_train.sh --build-direct`).
# Every part runs under `timeout` with what is left of the budget; a part that runs out shows as
# "timeout"/"not run" in the table. JSON lines and logs go to $OUT (or build-bench-results/).
#
# GPU call: run(command="bash tools/bench_train.sh", kind="nvidia-h100-x1",
#               carry=["build-bench/bench_train_step", ".devcarry/include"])
# Env: BENCH_BUDGET_S (530), WEMASK_CUDA_ARCHS (90a), BENCH_SKIP="wemask eager compile" parts to skip.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET="${BENCH_BUDGET_S:-530}"
T0=$(date +%s)
RESULTS="${OUT:-$PWD/build-bench-results}"
mkdir -p "$RESULTS"
JSONL="$RESULTS/bench_train.jsonl"
: > "$JSONL"
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
skip() { case " ${BENCH_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the wemask binary
build_direct() {  # compiles kernels + model + the AdamW driver + the bench; prints the binary path
  local out=build-bench-direct arch="${WEMASK_CUDA_ARCHS:-90a}" cuda=/usr/local/cuda
  mkdir -p "$out/obj"
  local omp=-fopenmp
  echo 'int main(){}' | g++ -x c++ -fopenmp - -o "$out/omp_probe" 2>/dev/null || omp=""
  export CXXFLAGS="-std=c++20 -O2 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY -I. -I.devcarry/include -I$cuda/include $omp -w"
  export NVFLAGS="-std=c++20 -O3 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -I. --generate-code=arch=compute_$arch,code=[compute_$arch,sm_$arch] --expt-relaxed-constexpr --use_fast_math -lineinfo"
  export OBJ_DIR="$out/obj" CUDA_DIR="$cuda"
  compile_one() {
    local src="$1" obj="$OBJ_DIR/$(echo "$1" | tr '/' '_').o"
    case "$src" in
      *.cu) "$CUDA_DIR/bin/nvcc" $NVFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
      *) g++ $CXXFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
    esac
    echo "$obj"
  }
  export -f compile_one
  ls kernels/*.cpp kernels/cpu/*.cpp kernels/cuda/*.cpp kernels/cuda/*.cu model/*.cpp \
     trainer/optim/adamw.cpp tools/bench_train_step.cpp \
    | xargs -P "$(nproc)" -I{} bash -c 'compile_one "$@"' _ {} > "$out/objs.txt" || return 1
  g++ $omp -o "$out/bench_train_step" $(cat "$out/objs.txt") -L"$cuda/lib64" -lcudnn -lcublasLt -lcublas -lcudart \
      -lpthread -Wl,-rpath,"$cuda/lib64" >&2 || return 1
  echo "$out/bench_train_step"
}

runs_here() { [ -x "$1" ] && ! ldd "$1" 2>/dev/null | grep -q "not found"; }

if [ "${1:-}" = "--build-direct" ]; then  # the GPU machine's fallback, on its own
  build_direct
  exit $?
fi
if [ "${1:-}" = "--build-only" ]; then  # here, before the GPU call: the CMake target's recipe
  [ -f build-bench/build.ninja ] || cmake -S . -B build-bench -G Ninja -DWEMASK_CUDA=ON \
      -DWEMASK_CUDA_ARCHS="${WEMASK_CUDA_ARCHS:-90a}" -DWEMASK_BUILD_TESTS=OFF > /dev/null || exit 1
  ninja -C build-bench -j"${BENCH_JOBS:-2}" wemask_model || exit 1
  g++ -std=c++20 -O2 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY -I. -I/usr/local/cuda/include \
      -fopenmp tools/bench_train_step.cpp trainer/optim/adamw.cpp -o build-bench/bench_train_step \
      build-bench/libwemask_model.a build-bench/libwemask_kernels.a -L/usr/local/cuda/lib64 \
      -lcudnn -lcublasLt -lcublas -lcudart -lpthread -Wl,-rpath,/usr/local/cuda/lib64 || exit 1
  ls -la build-bench/bench_train_step
  exit 0
fi

echo "== $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1 | head -1)"
BIN=""
for c in "${WEMASK_BENCH_BIN:-}" build-bench/bench_train_step; do
  [ -n "$c" ] && [ -f "$c" ] && chmod +x "$c" 2>/dev/null
  if [ -n "$c" ] && runs_here "$c"; then BIN="$c"; break; fi
done
if [ -z "$BIN" ] && ! skip wemask; then
  echo "== building bench_train_step here (no runnable carried binary)"
  BIN=$(timeout -k 5 "$(( $(left) / 3 ))" bash -c "$(declare -f build_direct); build_direct" 2> "$RESULTS/build.log" | tail -1)
  runs_here "${BIN:-/nonexistent}" || { echo "build failed:"; grep -E "error|FAILED" "$RESULTS/build.log" | head -20; BIN=""; }
  echo "   built in $(( $(date +%s) - T0 )) s"
fi

part() {  # name limit_s command... : JSON lines to $JSONL, the rest to $RESULTS/name.log
  local name="$1" limit="$2" rc t; shift 2
  [ "$limit" -gt 5 ] || { echo "== $name: no time left"; return; }
  t=$(date +%s)
  timeout -k 5 "$limit" "$@" > "$RESULTS/$name.out" 2> "$RESULTS/$name.log"; rc=$?
  grep '^{' "$RESULTS/$name.out" >> "$JSONL"
  echo "== $name: rc $rc in $(( $(date +%s) - t )) s (limit $limit s)"
  if [ "$rc" -ne 0 ]; then tail -4 "$RESULTS/$name.log" | cut -c1-300; fi
  return $rc
}
timed_out() {  # model batch mode kind: a record saying the run did not finish
  printf '{"kind":"%s","model":"%s","batch":%s,"seq":2048,"mode":"%s","wemask":true,"error":"timed out (budget)"}\n' \
    "$4" "$1" "$2" "$3" >> "$JSONL"
}
has_record() { grep -q "\"model\": *\"$1\".*\"mode\": *\"$2\"" "$JSONL"; }

# ---- wemask: full training steps (one process per shape)
if [ -n "$BIN" ] && ! skip wemask; then
  part wemask_0.6B 60 "$BIN" --model 0.6B --batch 8 || true
  part wemask_1.7B 60 "$BIN" --model 1.7B --batch 4 || true
  part wemask_4B 75 "$BIN" --model 4B --batch 2 --recompute-mlp || true
  part wemask_0.6B_off 40 "$BIN" --model 0.6B --batch 8 --wemask off || true
  part wemask_4B_layer 75 "$BIN" --model 4B --batch 2 --recompute || true
fi

# ---- PyTorch + transformers: eager runs in one process, then each compile run in its own
if ! skip eager; then
  part torch_eager "$(( $(left) < 150 ? $(left) : 150 ))" python3 tools/bench_train_torch.py \
    --run 0.6B:8:eager --run 1.7B:4:eager --run 4B:2:eager_gc || true
fi
if ! skip compile; then
  part torch_compile_0.6B "$(( ($(left) - 20) / 2 ))" python3 tools/bench_train_torch.py --run 0.6B:8:compile \
    || { has_record 0.6B compile || timed_out 0.6B 8 compile torch_train_step; }
  part torch_compile_1.7B "$(( $(left) - 15 ))" python3 tools/bench_train_torch.py --run 1.7B:4:compile \
    || { has_record 1.7B compile || timed_out 1.7B 4 compile torch_train_step; }
fi

echo "== results ($(( $(date +%s) - T0 )) s): $JSONL"
cat "$JSONL"
echo
python3 tools/bench_train_table.py "$JSONL"
