#!/usr/bin/env python3
"""Issue 12 item 6: cost of NV-Embed's latent-attention pooling per token,
relative to the decoder, on an NV-Embed-v2-shaped random model.

    python3 bench/bench_latent_pooling.py [--layers 2] [--tokens 256] [--sequences 2] [--repeats 3]

Writes a random NVEmbedModel folder (bf16 safetensors, NV-Embed-v2 shapes:
hidden 4096, 32 heads / 8 KV heads, MLP 14336, latent block 512 latents x 8
heads x 4096; the decoder cut to --layers layers and the vocabulary to 1024,
neither of which changes the per-token cost of a layer or of the pooling),
then runs `llmbed bench` with --pooling mean (decoder only; a mean is free)
and --pooling latent, interleaved --repeats times, and reports:
  decoder cost per token and layer, latent cost per token, and the latent
  cost as a fraction of the full 32-layer NV-Embed-v2 decoder.
Needs torch + safetensors (to write bf16) and a built llmbed (--llmbed)."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import save_file

HIDDEN, HEADS, KV, INTER, LATENTS, CROSS_HEADS, CROSS_DIM = 4096, 32, 8, 14336, 512, 8, 4096


def write_model(folder, layers):
    gen = torch.Generator().manual_seed(1)

    def rnd(*shape, scale=None):
        scale = scale if scale is not None else shape[-1] ** -0.5
        return (torch.randn(*shape, generator=gen) * scale).to(torch.bfloat16)

    tensors = {"embedding_model.embed_tokens.weight": rnd(1024, HIDDEN, scale=1.0),
               "embedding_model.norm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16)}
    hd = HIDDEN // HEADS
    for i in range(layers):
        p = f"embedding_model.layers.{i}."
        tensors.update({p + "input_layernorm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
                        p + "post_attention_layernorm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
                        p + "self_attn.q_proj.weight": rnd(HEADS * hd, HIDDEN),
                        p + "self_attn.k_proj.weight": rnd(KV * hd, HIDDEN),
                        p + "self_attn.v_proj.weight": rnd(KV * hd, HIDDEN),
                        p + "self_attn.o_proj.weight": rnd(HIDDEN, HEADS * hd),
                        p + "mlp.gate_proj.weight": rnd(INTER, HIDDEN), p + "mlp.up_proj.weight": rnd(INTER, HIDDEN),
                        p + "mlp.down_proj.weight": rnd(HIDDEN, INTER)})
    save_file(tensors, os.path.join(folder, "model-00001-of-00002.safetensors"))
    inner, q = CROSS_HEADS * CROSS_DIM, "latent_attention_model.cross_attend_blocks."
    latent = {"latent_attention_model.latents": rnd(LATENTS, HIDDEN, scale=1.0),
              q + "0.norm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
              q + "0.norm.bias": torch.zeros(HIDDEN, dtype=torch.bfloat16),
              q + "0.norm_context.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
              q + "0.norm_context.bias": torch.zeros(HIDDEN, dtype=torch.bfloat16),
              q + "0.fn.to_q.weight": rnd(inner, HIDDEN), q + "0.fn.to_kv.weight": rnd(2 * inner, HIDDEN),
              q + "0.fn.to_out.weight": rnd(HIDDEN, inner),
              q + "1.norm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
              q + "1.norm.bias": torch.zeros(HIDDEN, dtype=torch.bfloat16),
              q + "1.fn.net.0.weight": rnd(8 * HIDDEN, HIDDEN), q + "1.fn.net.0.bias": rnd(8 * HIDDEN, scale=0.1),
              q + "1.fn.net.2.weight": rnd(HIDDEN, 4 * HIDDEN), q + "1.fn.net.2.bias": rnd(HIDDEN, scale=0.1)}
    save_file(latent, os.path.join(folder, "model-00002-of-00002.safetensors"))
    weight_map = {k: "model-00001-of-00002.safetensors" for k in tensors}
    weight_map.update({k: "model-00002-of-00002.safetensors" for k in latent})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    text = dict(model_type="bidir_mistral", hidden_size=HIDDEN, num_attention_heads=HEADS, num_key_value_heads=KV,
                intermediate_size=INTER, num_hidden_layers=layers, vocab_size=1024, max_position_embeddings=32768,
                rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=None, eos_token_id=2)
    config = dict(architectures=["NVEmbedModel"], model_type="nvembed", text_config=text,
                  latent_attention_config=dict(model_type="latent_attention", num_latents_value=LATENTS,
                                               num_cross_heads=CROSS_HEADS, cross_dim_head=CROSS_DIM,
                                               hidden_dim=HIDDEN, latent_dim=HIDDEN, output_normalize=True))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)


def run_bench(llmbed, folder, pooling, args):
    out = subprocess.run([llmbed, "bench", "--model", folder, "--pooling", pooling, "--tokens", str(args.tokens),
                          "--sequences", str(args.sequences), "--warmup", "1"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"llmbed bench --pooling {pooling} failed: {out.stderr}")
    m = re.search(r"time:\s+([0-9.]+) s", out.stdout)
    return float(m.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llmbed", default="build/cpu/llmbed")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_model(folder, args.layers)
        times = {"mean": [], "latent": []}
        for _ in range(args.repeats):
            for pooling in ("mean", "latent"):
                times[pooling].append(run_bench(args.llmbed, folder, pooling, args))
    n = args.tokens * args.sequences
    dec = statistics.median(times["mean"])
    lat = statistics.median(times["latent"]) - dec
    per_layer = dec / args.layers / n
    hd_flops = 2 * (HIDDEN * (HEADS + 2 * KV) * (HIDDEN // HEADS) + HIDDEN * HIDDEN + 3 * HIDDEN * INTER)
    latent_flops = 2 * (2 * HIDDEN * CROSS_HEADS * LATENTS + HIDDEN * 8 * HIDDEN + 4 * HIDDEN * HIDDEN)
    unfolded = 2 * (2 * HIDDEN * CROSS_HEADS * CROSS_DIM + 2 * CROSS_HEADS * LATENTS * CROSS_DIM +
                    HIDDEN * 8 * HIDDEN + 4 * HIDDEN * HIDDEN)
    print(f"tokens per run {n} ({args.sequences} x {args.tokens}), decoder layers {args.layers}, repeats {args.repeats}")
    print(f"wall (median): pooling mean {dec:.3f} s, pooling latent {statistics.median(times['latent']):.3f} s; "
          f"all runs mean {times['mean']} latent {times['latent']}")
    print(f"decoder:       {per_layer * 1e3:.3f} ms per token per layer -> {per_layer * 32 * 1e3:.2f} ms per token "
          f"for NV-Embed-v2's 32 layers")
    print(f"latent block:  {lat / n * 1e3:.3f} ms per token")
    print(f"latent / 32-layer decoder: {lat / n / (per_layer * 32) * 100:.2f} % measured; on paper "
          f"{latent_flops / 1e6:.0f} MFLOP vs {32 * hd_flops / 1e9:.2f} GFLOP per token = "
          f"{latent_flops / (32 * hd_flops) * 100:.2f} % (unfolded to_q/to_out: {unfolded / 1e6:.0f} MFLOP, "
          f"{unfolded / (32 * hd_flops) * 100:.2f} %)")


if __name__ == "__main__":
    main()
