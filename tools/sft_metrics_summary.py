#!/usr/bin/env python3
"""Summarises one `wemask train` run for tools/gpu_session.sh: one JSON line with the first and last
loss, the steady-state tokens/s (steps after the warm-up, median and mean of the per-step values in
metrics.jsonl) and the peak GPU memory of an nvidia-smi sample file (MiB, one number per line).

    python3 tools/sft_metrics_summary.py METRICS.jsonl [GPU_MEMORY.txt] [NAME] [--warmup-steps 5]
"""
import argparse
import json
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics")
    ap.add_argument("gpu_memory", nargs="?")
    ap.add_argument("name", nargs="?")
    ap.add_argument("--warmup-steps", type=int, default=5)
    a = ap.parse_args()
    args = [a.metrics] + ([a.gpu_memory] if a.gpu_memory else []) + ([a.name] if a.name else [])
    warmup = a.warmup_steps
    rows = []
    with open(args[0]) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    steps = [r for r in rows if "loss" in r and "tokens_per_s" in r]
    if not steps:
        print(json.dumps({"name": args[2] if len(args) > 2 else args[0], "error": "no step rows"}))
        return 1
    steady = [r for r in steps if r["step"] > warmup] or steps
    tps = [r["tokens_per_s"] for r in steady]
    out = {
        "name": args[2] if len(args) > 2 else args[0],
        "steps": len(steps),
        "loss_first": round(steps[0]["loss"], 4),
        "loss_last": round(steps[-1]["loss"], 4),
        "steady_steps": len(steady),
        "tokens_per_s_median": round(statistics.median(tps)),
        "tokens_per_s_mean": round(statistics.fmean(tps)),
        "step_s_median": round(statistics.median(r["step_s"] for r in steady), 4),
        "tokens_per_step_mean": round(statistics.fmean(r["tokens"] for r in steady)),
    }
    if len(args) > 1:
        try:
            with open(args[1]) as f:
                mem = [int(x) for x in f.read().split() if x.strip().isdigit()]
            if mem:
                out["gpu_memory_peak_mib"] = max(mem)
                out["gpu_memory_samples"] = len(mem)
        except OSError:
            pass
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
