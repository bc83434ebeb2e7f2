#!/usr/bin/env bash
# Builds and runs the CUDA kernel tests on the GPU machine, independent of the rest of the project
# (whose dependencies - gtest, nlohmann, pcre2 dev packages - may be missing there, and whose
# half-finished files must not block kernel testing):
#   kernels/*.cpp, kernels/cpu/*.cpp, kernels/cuda/*.{cpp,cu}, tests/cuda/*.cpp + GoogleTest
# compiled straight with g++/nvcc into build-gpu-direct/. GoogleTest comes from the system when
# present, else from a carried source copy in .devcarry/googletest (cp -r /usr/src/googletest).
# Usage: tools/gpu_build.sh [gtest filter, default 'Cuda*']     Env: WEMASK_CUDA_ARCHS (90a)
set -uo pipefail
cd "$(dirname "$0")/.."
FILTER="${1:-Cuda*}"
ARCH="${WEMASK_CUDA_ARCHS:-90a}"
OUT_DIR=build-gpu-direct
JOBS=$(nproc)
CUDA=/usr/local/cuda
mkdir -p "$OUT_DIR/obj"

echo "== environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
"$CUDA/bin/nvcc" --version | tail -1; g++ --version | head -1; cmake --version 2>/dev/null | head -1
for p in /usr/include/gtest /usr/src/googletest /usr/include/nlohmann /usr/include/pcre2.h /usr/include/yaml-cpp /usr/include/spdlog; do
  [ -e "$p" ] && echo "present: $p" || echo "MISSING: $p"
done
dpkg -l 2>/dev/null | grep -E 'yaml|spdlog|gtest|googletest|pcre2|nlohmann' | awk '{print "dpkg:", $2, $3}'

# ---- GoogleTest
GTEST_SRC=""
for d in /usr/src/googletest/googletest .devcarry/googletest/googletest; do
  [ -f "$d/src/gtest-all.cc" ] && { GTEST_SRC="$d"; break; }
done
[ -n "$GTEST_SRC" ] || { echo "no GoogleTest source found (carry .devcarry/googletest)"; exit 2; }
echo "gtest source: $GTEST_SRC"

OMP=-fopenmp
echo 'int main(){}' | g++ -x c++ -fopenmp - -o "$OUT_DIR/omp_probe" 2>/dev/null || OMP=""
CXXFLAGS="-std=c++20 -O2 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -I. -I$CUDA/include $OMP -Wall -Wno-unused-parameter"
NVFLAGS="-std=c++20 -O3 -DNDEBUG -DWEMASK_HAVE_CUDA=1 -I. --generate-code=arch=compute_$ARCH,code=[compute_$ARCH,sm_$ARCH] --expt-relaxed-constexpr --use_fast_math -lineinfo"

compile() {  # src -> obj, prints errors
  local src="$1" obj="$OUT_DIR/obj/$(echo "$1" | tr '/' '_').o"
  if [ "$obj" -nt "$src" ] && [ -z "$(find kernels tests/cuda -newer "$obj" -name '*.h' -o -newer "$obj" -name '*.cuh' | head -1)" ]; then
    echo "$obj"; return 0; fi
  case "$src" in
    *.cu) "$CUDA/bin/nvcc" $NVFLAGS -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
    *) g++ $CXXFLAGS -I"$GTEST_SRC/include" -I"$GTEST_SRC" -c "$src" -o "$obj" >&2 || { echo "FAILED $src" >&2; return 1; } ;;
  esac
  echo "$obj"
}
export -f compile; export OUT_DIR CUDA CXXFLAGS NVFLAGS GTEST_SRC

echo "== compiling with $JOBS jobs"
SRCS=$(ls kernels/*.cpp kernels/cpu/*.cpp kernels/cuda/*.cpp kernels/cuda/*.cu tests/cuda/*.cpp \
         "$GTEST_SRC/src/gtest-all.cc" "$GTEST_SRC/src/gtest_main.cc")
t0=$(date +%s)
printf '%s\n' $SRCS | xargs -P "$JOBS" -I{} bash -c 'compile "$@"' _ {} > "$OUT_DIR/objs.txt" || { echo "compile failed"; exit 3; }
echo "compiled in $(( $(date +%s) - t0 )) s"
g++ $OMP -o "$OUT_DIR/wemask_cuda_tests" $(cat "$OUT_DIR/objs.txt") -L"$CUDA/lib64" -lcublasLt -lcublas -lcudart \
    -lpthread -Wl,-rpath,"$CUDA/lib64" || { echo "link failed"; exit 4; }

echo "== running tests ($FILTER)"
WEMASK_CUDA_TIMING=1 "./$OUT_DIR/wemask_cuda_tests" --gtest_filter="$FILTER" 2>&1
echo "tests rc=$?"
