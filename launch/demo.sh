#!/usr/bin/env bash
# The main job on a fresh machine: set up (apt + build), then the tiny SFT demo end to end —
# train 20 steps and stop (a checkpoint is written), resume from it to step 40, evaluate,
# export a Hugging Face folder, and plot the curves. On the GPU when one is usable, else the CPU.
#   bash launch/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
bash launch/setup.sh "$build_dir"
bin="$build_dir/wemask"

device=cpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && "$bin" version | grep -q "GPU present)"; then
  device=cuda
fi
out=out/demo
rm -rf "$out"
echo "demo: training on $device, output in $out"
"$bin" train configs/tiny_cpu_sft.yaml --set "train.device=$device" --set "output_dir=$out" --max-steps-now 20
echo "demo: stopped after step 20; resuming from the newest complete checkpoint"
"$bin" train configs/tiny_cpu_sft.yaml --set "train.device=$device" --set "output_dir=$out"
"$bin" plot "$out/metrics.jsonl" --output "$out/curves.svg"
echo "demo: checkpoints:"; ls "$out/checkpoints"
echo "demo: Hugging Face export:"; ls "$out/final"
echo "demo: curves: $out/curves.svg"
