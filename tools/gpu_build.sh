#!/usr/bin/env bash
# Builds and runs the CUDA kernel tests on the GPU machine, independent of the rest of the project
# (whose dependencies - gtest, nlohmann, pcre2 dev packages - may be missing there, and whose
# half-finished files must not block kernel testing):
#   kernels/*.cpp, kernels/cpu/*.cpp, kernels/cuda/*.{cpp,cu}, tests/cuda/*.cpp + GoogleTest
# compiled straight with g++/nvcc into build-gpu-direct/. GoogleTest comes from the system when
# present, else from a carried source copy in .devcarry/googletest (cp -r /usr/src/googletest).
#
# With --cmake it instead builds the whole project with CMake into build-gpu/ (targets wemask and
# wemask_tests, ninja -k 0) and runs wemask_tests. The GPU machine (Ubuntu 24.04) lacks the PCRE2
# dev package: carry .devcarry/pcre2/include/pcre2.h (cp /usr/include/pcre2.h) and this script
# generates a pkg-config file + libpcre2-8.so link to the system runtime libpcre2-8.so.0.
# Known (2026-11-22): configure then stops at pkg_check_modules(icu-uc) - the GPU machine has no
# ICU dev files either, and Debian's ICU 72 headers would not link against Ubuntu's ICU 74.
#
# Usage: tools/gpu_build.sh [--cmake] [gtest filter, default 'Cuda*']   Env: WEMASK_CUDA_ARCHS (90a)
# GPU call: run(command="bash tools/gpu_build.sh", carry=[".devcarry/googletest", ".devcarry/pcre2"])
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=direct
if [ "${1:-}" = "--cmake" ]; then MODE=cmake; shift; fi
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

if [ "$MODE" = cmake ]; then
  if [ ! -e /usr/include/pcre2.h ]; then
    [ -f .devcarry/pcre2/include/pcre2.h ] || { echo "pcre2.h missing: carry .devcarry/pcre2"; exit 2; }
    shim="$PWD/.devcarry/pcre2-shim"
    mkdir -p "$shim/pkgconfig"
    so=$(ls /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0* 2>/dev/null | head -1)
    [ -n "$so" ] || { echo "no runtime libpcre2-8.so.0"; exit 2; }
    ln -sf "$so" "$shim/libpcre2-8.so"
    cat > "$shim/pkgconfig/libpcre2-8.pc" <<PC
Name: libpcre2-8
Description: PCRE2 8-bit (carried header, system runtime library)
Version: 10.42
Libs: -L$shim -lpcre2-8
Cflags: -I$PWD/.devcarry/pcre2/include
PC
    export PKG_CONFIG_PATH="$shim/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    echo "pcre2 shim: $shim"
  fi
  GEN=Ninja; command -v ninja >/dev/null || GEN="Unix Makefiles"
  command -v pkg-config >/dev/null || echo "WARNING: pkg-config not found"
  t0=$(date +%s)
  cmake -S . -B build-gpu -G "$GEN" -DWEMASK_CUDA_ARCHS="$ARCH" > build-gpu.cmake.log 2>&1 \
    || { tail -30 build-gpu.cmake.log; exit 3; }
  cmake --build build-gpu -j "$JOBS" --target wemask wemask_tests -- $([ "$GEN" = Ninja ] && echo -k 0) 2>&1 \
    | grep -E "error|FAILED|Error" | head -40
  echo "cmake build finished in $(( $(date +%s) - t0 )) s"
  [ -x build-gpu/wemask_tests ] || { echo "wemask_tests was not built"; exit 4; }
  WEMASK_CUDA_TIMING=1 timeout 300 ./build-gpu/wemask_tests --gtest_filter="$FILTER" 2>&1
  echo "tests rc=$?"
  exit 0
fi

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
