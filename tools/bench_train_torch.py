#!/usr/bin/env python3
"""PyTorch + Hugging Face transformers training-step baseline for tools/bench_train.sh.

The setup a user would otherwise run: Qwen3ForCausalLM(config) with random init, fp32 master
weights + bf16 autocast, attn_implementation="sdpa", torch.optim.AdamW(fused=True), gradient
clipping at 1.0, one batch of random tokens (labels = input ids), eager or under torch.compile,
optionally with gradient checkpointing. Prints one JSON line per run:
tokens_per_s, mfu (6*N + 12*L*q_dim*S FLOPs per token over 989 TFLOP/s, N = matmul parameters
with the lm_head counted once), peak_mem_gib (torch.cuda.max_memory_allocated).

  bench_train_torch.py --run 0.6B:8:eager --run 0.6B:8:compile --run 4B:2:eager_gc [--seq 2048]
Modes: eager, eager_gc, compile, compile_gc.
"""
import argparse
import gc
import json
import sys
import time

VOCAB, KV_HEADS, HEAD_DIM, PEAK_FLOPS = 151936, 8, 128, 989e12
SHAPES = {  # the Hugging Face Qwen3 shapes (tied embeddings)
    "0.6B": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16),
    "1.7B": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16),
    "4B": dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32),
}
MODES = ("eager", "eager_gc", "compile", "compile_gc")


def flops_per_token(shape, seq):
    s = SHAPES[shape]
    d, layers = s["hidden_size"], s["num_hidden_layers"]
    q, kv = s["num_attention_heads"] * HEAD_DIM, KV_HEADS * HEAD_DIM
    per_layer = d * (q + 2 * kv) + q * d + 3 * d * s["intermediate_size"]
    matmul_params = layers * per_layer + VOCAB * d
    return 6.0 * matmul_params + 12.0 * layers * q * seq


def parse_run(text):
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in SHAPES or parts[2] not in MODES or not parts[1].isdigit():
        raise argparse.ArgumentTypeError(f"--run {text!r}: want SHAPE:BATCH:MODE with SHAPE in {list(SHAPES)}, "
                                         f"MODE in {list(MODES)}")
    return parts[0], int(parts[1]), parts[2]


def bench(shape, batch, mode, seq, warmup, steps):
    import torch
    import transformers
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    config = Qwen3Config(vocab_size=VOCAB, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM,
                         tie_word_embeddings=True, use_cache=False, attn_implementation="sdpa", **SHAPES[shape])
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(config).float()  # fp32 master weights, HF random init
    if hasattr(model, "set_attn_implementation"):  # transformers 5
        model.set_attn_implementation("sdpa")
    model.train()
    if mode.endswith("_gc"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.01, fused=True)
    forward = torch.compile(model) if mode.startswith("compile") else model
    ids = torch.randint(0, VOCAB, (batch, seq), device="cuda",
                        generator=torch.Generator(device="cuda").manual_seed(7))

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = forward(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    first_step_s = time.perf_counter() - t0  # includes compilation under torch.compile
    for _ in range(warmup - 1 + (1 if mode.startswith("compile") else 0)):  # compile: one more (recompiles)
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    step_s = (time.perf_counter() - t0) / steps
    tok_s = batch * seq / step_s
    result = dict(kind="torch_train_step", model=shape, batch=batch, seq=seq, mode=mode, steps=steps,
                  step_s=round(step_s, 4), tokens_per_s=round(tok_s), mfu=round(tok_s * flops_per_token(shape, seq) / PEAK_FLOPS, 4),
                  peak_mem_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
                  reserved_gib=round(torch.cuda.max_memory_reserved() / 2**30, 2),
                  first_step_s=round(first_step_s, 1), loss=round(float(loss.detach()), 4),
                  attn=getattr(model.config, "_attn_implementation", "?"),
                  param_dtype=str(next(model.parameters()).dtype).replace("torch.", ""),
                  torch=torch.__version__, transformers=transformers.__version__,
                  gpu=torch.cuda.get_device_name())
    del forward, model, optimizer, ids
    free_cuda_memory()
    return result


def free_cuda_memory():
    import torch
    gc.collect()
    try:
        torch._dynamo.reset()  # drop compiled graphs (and the weights they hold on to)
    except Exception:
        pass
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", type=parse_run, required=True, help="SHAPE:BATCH:MODE (repeatable)")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=2, help="steps before timing (the first one compiles)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    args = ap.parse_args()
    failed = False
    for shape, batch, mode in args.run:
        try:
            result = bench(shape, batch, mode, args.seq, max(args.warmup, 1), args.steps)
        except Exception as e:  # an OOM or a compile failure must not hide the other runs
            failed = True
            result = dict(kind="torch_train_step", model=shape, batch=batch, seq=args.seq, mode=mode,
                          error=f"{type(e).__name__}: {e}"[:300])
        print(json.dumps(result), flush=True)
        if "error" in result:  # free what the failed run held (its frames died with the exception)
            free_cuda_memory()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
