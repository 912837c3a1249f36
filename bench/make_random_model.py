#!/usr/bin/env python3
"""Writes a random-weight Hugging Face folder (config.json + model.safetensors)
with the Qwen3-0.6B shape (hidden 1024, 16 q / 8 kv heads x head_dim 128,
intermediate 3072, q/k norms, tied embeddings), numpy only: no torch needed,
so the long-input benchmark runs on any machine.

  python3 bench/make_random_model.py --layers 2 --out /tmp/qwen3-0.6b-2l

Weights are N(0, 0.02) like transformers' init (norms 1), bf16 on disk
(llmbed converts to fp32 on the CPU). --layers reduces depth for CPU runs:
per-layer cost and per-layer cache bytes scale exactly with it.
"""
import argparse
import json
import os
import struct

import numpy as np


def bf16_bytes(x):
    """float32 -> bf16 by round-to-nearest-even, as little-endian bytes."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16).tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors:
        blob = bf16_bytes(array)
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=28)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--max-positions", type=int, default=40960)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    hidden, heads, kv_heads, head_dim, inter = 1024, 16, 8, 128, 3072
    rng = np.random.default_rng(args.seed)
    normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    ones = lambda n: np.ones(n, dtype=np.float32)
    tensors = [("model.embed_tokens.weight", normal(args.vocab, hidden)), ("model.norm.weight", ones(hidden))]
    for i in range(args.layers):
        p = f"model.layers.{i}."
        tensors += [
            (p + "input_layernorm.weight", ones(hidden)),
            (p + "post_attention_layernorm.weight", ones(hidden)),
            (p + "self_attn.q_proj.weight", normal(heads * head_dim, hidden)),
            (p + "self_attn.k_proj.weight", normal(kv_heads * head_dim, hidden)),
            (p + "self_attn.v_proj.weight", normal(kv_heads * head_dim, hidden)),
            (p + "self_attn.o_proj.weight", normal(hidden, heads * head_dim)),
            (p + "self_attn.q_norm.weight", ones(head_dim)),
            (p + "self_attn.k_norm.weight", ones(head_dim)),
            (p + "mlp.gate_proj.weight", normal(inter, hidden)),
            (p + "mlp.up_proj.weight", normal(inter, hidden)),
            (p + "mlp.down_proj.weight", normal(hidden, inter)),
        ]
    os.makedirs(args.out, exist_ok=True)
    config = {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": hidden,
        "num_hidden_layers": args.layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "head_dim": head_dim, "intermediate_size": inter, "vocab_size": args.vocab, "hidden_act": "silu",
        "max_position_embeddings": args.max_positions, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True, "attention_bias": False, "torch_dtype": "bfloat16",
        "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors)
    print(f"wrote {args.out}: Qwen3-0.6B shape, {args.layers} layers, vocab {args.vocab}, bf16")


if __name__ == "__main__":
    main()
