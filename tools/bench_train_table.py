#!/usr/bin/env python3
"""Turns the JSON lines of tools/bench_train_step and tools/bench_train_torch.py (read from the
files given, other lines ignored) into the issue-3 table: tokens/s, MFU and peak memory of wemask
and the PyTorch baselines per Qwen3 shape, the ratios, and the targets met or not.

  bench_train_table.py results.jsonl [more.jsonl ...]
"""
import json
import sys

SHAPES = ("0.6B", "1.7B", "4B")


def read_records(paths):
    records = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    return records


def pick(records, shape, kind, modes=None, wemask=None):
    """The first record of `shape` and `kind` (and one of `modes`), successful ones first."""
    found = [r for r in records if r.get("kind") == kind and r.get("model") == shape
             and (modes is None or r.get("mode") in modes)
             and (wemask is None or r.get("wemask", True) == wemask)]
    found.sort(key=lambda r: "error" in r)
    return found[0] if found else None


def ok(r):
    return r is not None and "error" not in r and r.get("tokens_per_s")


def fmt_tok(r):
    if r is None:
        return "not run"
    if "error" in r:
        return "timeout" if r["error"].startswith("timed out") else "error"
    return f"{r['tokens_per_s'] / 1000:.1f}k"


def fmt_num(r, key, scale=1.0, spec=".0f", suffix=""):
    return f"{r[key] * scale:{spec}}{suffix}" if ok(r) and key in r else "—"


def ratio(a, b):
    return a["tokens_per_s"] / b["tokens_per_s"] if ok(a) and ok(b) else None


def fmt_ratio(x):
    return f"{x:.2f}×" if x is not None else "—"


def verdict(value, target, what):
    if value is None:
        return f"- {what}: NOT MEASURED"
    return f"- {what}: {value:.2f} vs ≥ {target} → {'met' if value >= target else 'NOT met'}"


def main(paths):
    records = read_records(paths)
    rows, by_shape = [], {}
    for shape in SHAPES:
        w = pick(records, shape, "wemask_train_step", wemask=True)
        e = pick(records, shape, "torch_train_step", modes=("eager", "eager_gc"))
        c = pick(records, shape, "torch_train_step", modes=("compile", "compile_gc"))
        if w is None and e is None and c is None:
            continue
        by_shape[shape] = (w, e, c)
        batch = next((r["batch"] for r in (w, e, c) if r and "batch" in r), "?")
        seq = next((r["seq"] for r in (w, e, c) if r and "seq" in r), "?")
        scope = w.get("recompute_scope", "layer") if w and w.get("recompute") else None
        label = shape + (f" (recompute {scope} / GC)" if scope or (e and e.get("mode") == "eager_gc") else "")
        rows.append([label, f"{batch}×{seq}", fmt_tok(w), fmt_tok(e), fmt_tok(c),
                     " / ".join(fmt_num(r, "mfu", 100, ".1f", "%") for r in (w, e, c)),
                     " / ".join(fmt_num(r, "peak_mem_gib", 1, ".1f") for r in (w, e, c)),
                     fmt_ratio(ratio(w, e)), fmt_ratio(ratio(w, c))])
    header = ["shape", "batch×seq", "wemask tok/s", "eager tok/s", "compile tok/s",
              "MFU wemask / eager / compile", "peak GiB wemask / eager / compile", "wemask/eager", "wemask/compile"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")

    print()
    print("Targets (issue 3, one H100 80GB, seq 2048):")
    for shape in ("0.6B", "1.7B"):
        w, _, c = by_shape.get(shape, (None, None, None))
        print(verdict(ratio(w, c), 1.25, f"{shape}: wemask / torch.compile tokens/s"))
    w17 = by_shape.get("1.7B", (None,))[0]
    print(verdict(w17["mfu"] * 100 if ok(w17) else None, 50, "1.7B: wemask MFU %"))
    w4, e4, _ = by_shape.get("4B", (None, None, None))
    print(verdict(ratio(w4, e4), 1.8, "4B (recompute, fp32 master, AdamW): wemask / eager+GC tokens/s"))

    print()
    for shape, (w, e, c) in by_shape.items():
        if ok(w) and "fb_s" in w:
            print(f"- wemask {shape} step split (one synchronised step): forward+backward {w['fb_s']:.3f} s, "
                  f"grad norm {w['norm_s'] * 1000:.1f} ms, AdamW {w['opt_s'] * 1000:.1f} ms; "
                  f"weights+grads+master+m+v {w['state_gib']:.1f} GiB, activation arena {w['activation_gib']:.1f} GiB")
        if ok(c) and "first_step_s" in c:
            print(f"- torch.compile {shape}: first step (compilation) {c['first_step_s']:.0f} s")
    headline = by_shape.get("4B", (None, None, None))[0]
    for r in records:
        if (r.get("kind") == "wemask_train_step" and r.get("model") == "4B" and ok(r) and r is not headline
                and r.get("recompute")):
            print(f"- wemask 4B with recompute scope '{r.get('recompute_scope', 'layer')}': "
                  f"{r['tokens_per_s'] / 1000:.1f}k tok/s, peak {r['peak_mem_gib']:.1f} GiB")
    off = [r for r in records if r.get("kind") == "wemask_train_step" and r.get("wemask") is False and ok(r)]
    for r in off:
        on = pick(records, r["model"], "wemask_train_step", wemask=True)
        if ok(on):
            print(f"- WeMask off at {r['model']}: {r['tokens_per_s'] / 1000:.1f}k tok/s "
                  f"(on: {on['tokens_per_s'] / 1000:.1f}k)")
    for r in records:
        if "error" in r:
            print(f"- {r.get('kind')} {r.get('model', '')} {r.get('mode', '')}: {r['error']}")
    meta = next((r for r in records if r.get("kind") == "torch_train_step" and "torch" in r), None)
    if meta:
        print(f"- baseline: torch {meta['torch']}, transformers {meta['transformers']}, attention {meta['attn']}, "
              f"{meta['gpu']}")
    print("- peak memory: wemask = device memory in use after the steps minus before the model (cudaMemGetInfo); "
          "torch = torch.cuda.max_memory_allocated")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
