#!/usr/bin/env bash
# Where the GPU time of a training step goes: Nsight Compute's per-kernel durations of
# bench_model_step (forward+backward, no optimizer) for the 0.6B and 1.7B shapes, grouped by kernel
# (tools/ncu_kernel_table.py), plus the CudaTiming test (matmul and attention TFLOP/s).
# From the binaries of tools/gpu_bundle.sh:
#   run(command="bash tools/gpu_profile.sh", carry=[".devcarry/bundle"])
# Env: OUT (default out/gpu_profile), WEMASK_PROFILE_SHAPES ("0.6B:8 1.7B:4").
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${WEMASK_BUNDLE:-$PWD/.devcarry/bundle}"
OUT="${OUT:-$PWD/out/gpu_profile}"
mkdir -p "$OUT"
if [ ! -d "$BUNDLE/bin" ]; then tar -C "$BUNDLE" -xJf "$BUNDLE/payload.tar.xz" || { echo "cannot unpack the bundle"; exit 2; }; fi
# shellcheck source=/dev/null
source "$BUNDLE/env.sh"
NCU="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
WEMASK_CUDA_TIMING=1 timeout 120 "$BUNDLE/bin/wemask_tests" --gtest_filter='CudaTiming.*' 2>&1 | grep '\[timing\]' | tee "$OUT/timing.txt"
for spec in ${WEMASK_PROFILE_SHAPES:-0.6B:8 1.7B:4}; do
  size="${spec%%:*}" batch="${spec##*:}"
  echo "== $size ${batch}x2048"
  # 3 steps run: arena planning, warm-up, 1 timed (WEMASK_BENCH_STEPS=1)
  WEMASK_BENCH_STEPS=1 timeout 300 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --page raw \
    "$BUNDLE/bin/bench_model_step" "$size" "$batch" 2048 > "$OUT/ncu_$size.csv" 2> "$OUT/ncu_$size.err"
  echo "ncu rc=$? ($(wc -l < "$OUT/ncu_$size.csv") lines)"
  python3 tools/ncu_kernel_table.py "$OUT/ncu_$size.csv" 3 45 | tee "$OUT/kernels_$size.txt"
done
