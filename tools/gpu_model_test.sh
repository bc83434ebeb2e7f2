#!/usr/bin/env bash
# Builds and runs the model's GPU tests (tests/model/hf_parity_test.cpp: the Qwen3 model on CUDA in
# fp32 and bf16 against the Hugging Face goldens) on the GPU machine, compiling straight with
# g++/nvcc: kernels (cpu + cuda), model/*.cpp (not model/analysis), the test, GoogleTest.
# Header-only dependencies missing there (nlohmann, fmt, spdlog) come from a carried
# .devcarry/include (cp -r /usr/include/{nlohmann,fmt,spdlog} .devcarry/include/); GoogleTest
# from the system or .devcarry/googletest.
# Usage: tools/gpu_model_test.sh [gtest filter, default 'HfParity*:Qwen3ModelCuda*']   Env: WEMASK_CUDA_ARCHS (90a)
set -uo pipefail
cd "$(dirname "$0")/.."
FILTER="${1:-HfParity*:Qwen3ModelCuda*}"
ARCH="${WEMASK_CUDA_ARCHS:-90a}"
OUT_DIR=build-gpu-model
CUDA=/usr/local/cuda
mkdir -p "$OUT_DIR/obj"

GTEST_SRC=""
for d in /usr/src/googletest/googletest .devcarry/googletest/googletest; do
  [ -f "$d/src/gtest-all.cc" ] && { GTEST_SRC="$d"; break; }
done
[ -n "$GTEST_SRC" ] || { echo "no GoogleTest source found (carry .devcarry/googletest)"; exit 2; }

OMP=-fopenmp
echo 'int main(){}' | g++ -x c++ -fopenmp - -o "$OUT_DIR/omp_probe" 2>/dev/null || OMP=""
printf '#define WEMASK_SOURCE_DIR "%s"\n#define WEMASK_BINARY "/nonexistent"\n' "$PWD" > "$OUT_DIR/paths.h"
DEFS="-DWEMASK_HAVE_CUDA=1 -include $OUT_DIR/paths.h -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY"
export CXXFLAGS="-std=c++20 -O2 -DNDEBUG $DEFS -I. -I.devcarry/include -I$CUDA/include -I$GTEST_SRC/include -I$GTEST_SRC $OMP -w"
export NVFLAGS="-std=c++20 -O3 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -I. --generate-code=arch=compute_$ARCH,code=[compute_$ARCH,sm_$ARCH] --expt-relaxed-constexpr --use_fast_math -lineinfo"
export OUT_DIR CUDA

compile() {
  local src="$1" obj="$OUT_DIR/obj/$(echo "$1" | tr '/' '_').o"
  case "$src" in
    *.cu) "$CUDA/bin/nvcc" $NVFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
    *) g++ $CXXFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
  esac
  echo "$obj"
}
export -f compile

SRCS=$(ls kernels/*.cpp kernels/cpu/*.cpp kernels/cuda/*.cpp kernels/cuda/*.cu model/*.cpp \
         tests/model/hf_parity_test.cpp tests/model/qwen3_cuda_test.cpp "$GTEST_SRC/src/gtest-all.cc" "$GTEST_SRC/src/gtest_main.cc" 2>/dev/null)
t0=$(date +%s)
printf '%s\n' $SRCS | xargs -P "$(nproc)" -I{} bash -c 'compile "$@"' _ {} > "$OUT_DIR/objs.txt" || { echo "compile failed"; exit 3; }
echo "compiled in $(( $(date +%s) - t0 )) s"
g++ $OMP -o "$OUT_DIR/wemask_model_gpu_tests" $(cat "$OUT_DIR/objs.txt") -L"$CUDA/lib64" -lcublasLt -lcublas -lcudart \
    -lpthread -Wl,-rpath,"$CUDA/lib64" || { echo "link failed"; exit 4; }
"./$OUT_DIR/wemask_model_gpu_tests" --gtest_filter="$FILTER" 2>&1
echo "tests rc=$?"

# Optional: training-step throughput (WEMASK_BENCH="0.6B 4 2048 0;0.6B 4 2048 1", settings split by ';').
if [ -n "${WEMASK_BENCH:-}" ]; then
  g++ $CXXFLAGS -c tools/bench_model_step.cpp -o "$OUT_DIR/obj/bench_model_step.o" || exit 5
  g++ $OMP -o "$OUT_DIR/bench_model_step" "$OUT_DIR/obj/bench_model_step.o" \
      $(grep -v -E 'tests_|gtest' "$OUT_DIR/objs.txt") -L"$CUDA/lib64" -lcublasLt -lcublas -lcudart -lpthread \
      -Wl,-rpath,"$CUDA/lib64" || exit 6
  IFS=';' read -ra SETTINGS <<< "$WEMASK_BENCH"
  for s in "${SETTINGS[@]}"; do "./$OUT_DIR/bench_model_step" $s 2>&1 | tail -3; done
fi
