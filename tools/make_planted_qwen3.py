#!/usr/bin/env python3
"""Writes a RANDOMLY initialised Qwen3 Hugging Face folder with a massive activation PLANTED at one
layer, for exercising `wemask analyze` on a real-size model without downloading weights.

    python3 tools/make_planted_qwen3.py --output DIR [--shape 1.7B] [--me-layer 5] [--device cuda]

The planting follows tests/model/analysis/planted_model.h, scaled to a large hidden size:
  * the sink token (default <|im_start|>, id 151644: the first token of every chat-templated
    prompt) gets the embedding marker * e_marker; every other token's embedding is 0 on the
    marker dim;
  * at layer `me_layer`, intermediate unit 0 of the MLP has gate = up = 3 * normed[marker] (the
    rest of its row 0), so silu(gate) * up is large only for the sink token, and column 0 of
    down_proj writes value / act into each chosen dim (act: the expected silu(gate) * up of the
    sink token, estimated from the marker's share of the residual norm).
All other weights are transformers' own random init (normal, std 0.02), stored in bf16.
Prints one JSON line describing what was planted.
"""
import argparse
import json
import math
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

SHAPES = {
    "0.6B": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28),
    "1.7B": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", required=True)
    ap.add_argument("--shape", default="1.7B", choices=sorted(SHAPES))
    ap.add_argument("--me-layer", type=int, default=5)
    ap.add_argument("--dims", default="402,1563", help="massive dims, comma separated")
    ap.add_argument("--values", default="1800,-1100", help="their planted values, comma separated")
    ap.add_argument("--sink-token", type=int, default=151644)
    ap.add_argument("--marker-dim", type=int, default=7)
    ap.add_argument("--marker", type=float, default=40.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    dims = [int(x) for x in a.dims.split(",")]
    values = [float(x) for x in a.values.split(",")]
    assert len(dims) == len(values), "--dims and --values differ in length"

    t0 = time.time()
    cfg = Qwen3Config(vocab_size=151936, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                      max_position_embeddings=40960, rope_theta=1000000.0, rms_norm_eps=1e-6,
                      tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151645,
                      use_sliding_window=False, **SHAPES[a.shape])
    assert a.marker_dim not in dims and all(0 <= d < cfg.hidden_size for d in dims + [a.marker_dim])
    assert 0 <= a.me_layer < cfg.num_hidden_layers
    torch.manual_seed(a.seed)
    with torch.device(a.device):
        model = Qwen3ForCausalLM(cfg)
    d = cfg.hidden_size
    with torch.no_grad():
        emb = model.model.embed_tokens.weight  # [V, d]
        emb[:, a.marker_dim] = 0.0
        emb[a.sink_token].zero_()
        emb[a.sink_token, a.marker_dim] = a.marker
        mlp = model.model.layers[a.me_layer].mlp
        mlp.gate_proj.weight[0].zero_()
        mlp.up_proj.weight[0].zero_()
        mlp.gate_proj.weight[0, a.marker_dim] = 3.0
        mlp.up_proj.weight[0, a.marker_dim] = 3.0
        # The sink's residual at the ME layer: the marker plus what the random layers before it
        # added (~1 per dim and layer, in quadrature); its normed marker entry is then about
        # sqrt(d) * marker / |residual|, and silu(g) * u ~ (3 * that)^2.
        residual = math.sqrt(a.marker ** 2 + d * a.me_layer * 1.1)
        act = (3.0 * math.sqrt(d) * a.marker / residual) ** 2
        mlp.down_proj.weight[:, 0] = 0.0
        for dim, value in zip(dims, values):
            mlp.down_proj.weight[dim, 0] = value / act
    model = model.to(torch.bfloat16)
    model.save_pretrained(a.output, safe_serialization=True)
    print(json.dumps({"kind": "planted_qwen3", "shape": a.shape, "output": a.output, "me_layer": a.me_layer,
                      "dims": dims, "values": values, "sink_token": a.sink_token, "marker_dim": a.marker_dim,
                      "marker": a.marker, "estimated_act": round(act, 1), "seconds": round(time.time() - t0, 1),
                      "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
