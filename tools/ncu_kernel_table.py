#!/usr/bin/env python3
"""Per-kernel GPU time table from `ncu --csv --page raw --metrics gpu__time_duration.sum`.

Usage: ncu_kernel_table.py NCU_CSV STEPS [TOP]
Groups launches by kernel name (template arguments cut at 90 characters) and prints, per group,
launches per step, milliseconds per step and the share of all kernel time, largest first.
STEPS is how many model steps the profiled process ran (the totals are divided by it).
"""
import csv
import sys
from collections import defaultdict


def main() -> None:
    path, steps = sys.argv[1], float(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu prints its own log lines before the CSV
    rows = list(csv.reader(lines))
    header = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
    cols = rows[header]
    name_col, time_col = cols.index("Kernel Name"), cols.index("gpu__time_duration.sum")
    unit = rows[header + 1][time_col] if header + 1 < len(rows) else "nsecond"
    scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(unit.strip(), 1e-6)
    total, count = defaultdict(float), defaultdict(int)
    for r in rows[header + 1:]:
        if len(r) <= time_col:
            continue
        try:
            t = float(r[time_col].replace(",", "")) * scale
        except ValueError:
            continue  # the units row
        name = r[name_col][:90]
        total[name] += t
        count[name] += 1
    grand = sum(total.values())
    print(f"all kernels: {grand / steps:.2f} ms per step ({sum(count.values()) / steps:.0f} launches per step)")
    print(f"{'ms/step':>9} {'share':>6} {'launch/step':>11}  kernel")
    for name, t in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{t / steps:9.3f} {100 * t / grand:5.1f}% {count[name] / steps:11.1f}  {name}")


if __name__ == "__main__":
    main()
