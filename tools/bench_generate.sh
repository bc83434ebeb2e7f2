#!/usr/bin/env bash
# One GPU call for the rollout engine: builds (g++/nvcc straight, as tools/gpu_model_test.sh)
# kernels + model/*.cpp + the decode tests + tools/bench_generate.cpp, runs the CUDA decode and
# generation tests, then times wemask's engine and HF transformers `generate` on the same setting
# (Qwen3-0.6B shape, random bf16 weights, B prompts x P random tokens -> exactly N new tokens,
# sampling at temperature 1) and prints a table. Logs also go to $OUT when set.
# GPU call: run(command="bash tools/bench_generate.sh", carry=[".devcarry/include", ".devcarry/googletest"])
# Env: B P N (64 256 256), WEMASK_CUDA_ARCHS (90a), SKIP_HF=1, SKIP_TESTS=1, SKIP_BENCH=1.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${B:-64}; P=${P:-256}; N=${N:-256}
ARCH="${WEMASK_CUDA_ARCHS:-90a}"
OUT_DIR=build-gpu-gen
LOG="${OUT:-$OUT_DIR}"
CUDA=/usr/local/cuda
mkdir -p "$OUT_DIR/obj" "$LOG"

GTEST_SRC=""
for d in /usr/src/googletest/googletest .devcarry/googletest/googletest; do
  [ -f "$d/src/gtest-all.cc" ] && { GTEST_SRC="$d"; break; }
done
[ -n "$GTEST_SRC" ] || { echo "no GoogleTest source found (carry .devcarry/googletest)"; exit 2; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1

OMP=-fopenmp
echo 'int main(){}' | g++ -x c++ -fopenmp - -o "$OUT_DIR/omp_probe" 2>/dev/null || OMP=""
printf '#define WEMASK_SOURCE_DIR "%s"\n#define WEMASK_BINARY "/nonexistent"\n' "$PWD" > "$OUT_DIR/paths.h"
DEFS="-DWEMASK_HAVE_CUDA=1 -include $OUT_DIR/paths.h -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY"
export CXXFLAGS="-std=c++20 -O2 -DNDEBUG $DEFS -I. -I.devcarry/include -I$CUDA/include -I$GTEST_SRC/include -I$GTEST_SRC $OMP -w"
export NVFLAGS="-std=c++20 -O3 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -I. --generate-code=arch=compute_$ARCH,code=[compute_$ARCH,sm_$ARCH] --expt-relaxed-constexpr --use_fast_math -lineinfo"
export OUT_DIR CUDA
compile() {  # src -> obj (kept when newer than the source and every header), prints errors
  local src="$1" obj="$OUT_DIR/obj/$(echo "$1" | tr '/' '_').o"
  if [ "$obj" -nt "$src" ] && [ -z "$(find kernels model tests -newer "$obj" \( -name '*.h' -o -name '*.cuh' \) | head -1)" ]; then
    echo "$obj"; return 0; fi
  case "$src" in
    *.cu) "$CUDA/bin/nvcc" $NVFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
    *) g++ $CXXFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
  esac
  echo "$obj"
}
export -f compile

TESTS="tests/cuda/cuda_decode_test.cpp tests/model/generate_cuda_test.cpp"
SRCS=$(ls kernels/*.cpp kernels/cpu/*.cpp kernels/cuda/*.cpp kernels/cuda/*.cu model/*.cpp tools/bench_generate.cpp)
[ -n "${SKIP_TESTS:-}" ] || SRCS="$SRCS $TESTS $GTEST_SRC/src/gtest-all.cc $GTEST_SRC/src/gtest_main.cc"
t0=$(date +%s)
printf '%s\n' $SRCS | xargs -P "$(nproc)" -I{} bash -c 'compile "$@"' _ {} > "$OUT_DIR/objs.txt" || { echo "compile failed"; exit 3; }
echo "compiled in $(( $(date +%s) - t0 )) s"
LIBS="-L$CUDA/lib64 -lcublasLt -lcublas -lcudart -lpthread -Wl,-rpath,$CUDA/lib64"
CORE=$(grep -v -E 'tests_|gtest|bench_generate' "$OUT_DIR/objs.txt")
g++ $OMP -o "$OUT_DIR/bench_generate" $CORE "$OUT_DIR/obj/tools_bench_generate.cpp.o" $LIBS || { echo "link failed"; exit 4; }
if [ -z "${SKIP_TESTS:-}" ]; then
  g++ $OMP -o "$OUT_DIR/decode_tests" $(grep -v bench_generate "$OUT_DIR/objs.txt") $LIBS || { echo "test link failed"; exit 4; }
  timeout 120 "./$OUT_DIR/decode_tests" --gtest_filter='CudaDecode*:GenerateCuda*' 2>&1 | tee "$LOG/decode_tests.log" \
    | grep -E "^\[  (PASSED|FAILED|  OK|SKIPPED) |Failure|Expected|Which is|error" | head -60
fi

[ -n "${SKIP_BENCH:-}" ] && exit 0
echo "== wemask engine"
"./$OUT_DIR/bench_generate" 0.6B "$B" "$P" "$N" 1.0 2>&1 | tee "$LOG/wemask_sample.json"
if [ -z "${SKIP_HF:-}" ]; then
  echo "== HF transformers"
  timeout 200 python3 tools/bench_generate_hf.py --batch "$B" --prompt "$P" --new "$N" 2>&1 | grep -v Warning | tail -3 \
    | tee "$LOG/hf_sample.json"
fi
"./$OUT_DIR/bench_generate" 0.6B "$B" "$P" "$N" 1.0 -1 1 2>&1 | tee "$LOG/wemask_sample_graphs.json"
"./$OUT_DIR/bench_generate" 0.6B "$B" "$P" "$N" 0.0 -1 1 2>&1 | tee "$LOG/wemask_greedy.json"
"./$OUT_DIR/bench_generate" 0.6B "$B" "$P" "$N" 1.0 14 1 2>&1 | tee "$LOG/wemask_sample_wemask.json"
python3 - "$LOG" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads([l for l in (d / name).read_text().splitlines() if l.startswith("{")][-1])
    except Exception:
        return None
hf = load("hf_sample.json")
rows = [("wemask, sample T=1", load("wemask_sample.json")),
        ("wemask, sample T=1, CUDA graphs", load("wemask_sample_graphs.json")),
        ("wemask, greedy, CUDA graphs", load("wemask_greedy.json")),
        ("wemask, sample T=1, WeMask layers 14..27, CUDA graphs", load("wemask_sample_wemask.json")),
        ("HF generate, sample T=1", hf)]
print(f"B={hf['batch'] if hf else '?'} prompts x {hf['prompt'] if hf else '?'} tokens -> {hf['new'] if hf else '?'} new tokens each")
print("| engine | tokens/s | total s | vs HF | decode |")
print("|---|---:|---:|---:|---|")
for name, r in rows:
    if r is None:
        print(f"| {name} | (missing) | | | |"); continue
    ratio = f"{r['tokens_per_s'] / hf['tokens_per_s']:.1f}x" if hf else "-"
    step = f"{r['decode_ms_per_step']:.2f} ms/step (enqueue {r['decode_enqueue_ms_per_step']:.2f}), prefill {r['prefill_s']:.3f} s" if "decode_ms_per_step" in r else ""
    print(f"| {name} | {r['tokens_per_s']:.0f} | {r['total_s']:.2f} | {ratio} | {step} |")
PY
