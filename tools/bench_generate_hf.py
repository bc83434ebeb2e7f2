#!/usr/bin/env python3
"""HF transformers `generate` throughput, the baseline of tools/bench_generate.sh.

Random weights of a Qwen3 shape (default 0.6B: hidden 1024, intermediate 3072, 28 layers, 16/8
heads, head_dim 128, vocab 151936, tied), bf16, sdpa attention, B prompts of P random tokens,
exactly N new tokens each (eos_token_id None: no early stop; the JSON reports the count), sampling at temperature 1
(top_k 0, top_p 1) or greedy. Prints one JSON line.
  python3 tools/bench_generate_hf.py [--batch 64] [--prompt 256] [--new 256] [--greedy]
"""
import argparse
import json
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, Qwen3Config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--new", type=int, default=256)
    ap.add_argument("--greedy", action="store_true")
    a = ap.parse_args()
    cfg = Qwen3Config(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                      num_attention_heads=16, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True,
                      max_position_embeddings=40960, rope_theta=1e6, rms_norm_eps=1e-6)
    torch.manual_seed(0)
    with torch.device("cuda"):
        try:
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
        except TypeError:
            model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16, attn_implementation="sdpa")
    if hasattr(model, "set_attn_implementation"):  # transformers 5
        model.set_attn_implementation("sdpa")
    model = model.to("cuda", torch.bfloat16).eval()
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.prompt), device="cuda")
    mask = torch.ones_like(ids)
    kw = dict(attention_mask=mask, pad_token_id=0, eos_token_id=None)
    if a.greedy:
        kw.update(do_sample=False)
    else:
        kw.update(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=8, **kw)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=a.new, **kw)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    generated = (out.shape[1] - a.prompt) * a.batch
    print(json.dumps({"impl": "hf", "transformers": transformers.__version__, "torch": torch.__version__,
                      "batch": a.batch, "prompt": a.prompt, "new": a.new, "greedy": a.greedy,
                      "attn": getattr(model.config, "_attn_implementation", "?"), "generated": generated, "total_s": round(dt, 4), "tokens_per_s": round(generated / dt, 1)}))


if __name__ == "__main__":
    main()
