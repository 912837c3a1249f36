#!/usr/bin/env python3
"""Numbers behind docs/scaling.md: memory per GPU, tensor-parallel traffic and
compute per token-layer for published embedders, from their shapes and the
hardware's datasheet limits (no GPU needed; nothing here is measured).

Usage: python3 bench/scaling_plan.py [--tokens 32768] [--think-ratio 0.5]
"""
import argparse

# Published shapes (config.json of each checkpoint).
MODELS = {
    "Qwen3-Embedding-0.6B": dict(layers=28, hidden=1024, heads=16, kv=8, d=128, inter=3072, vocab=151669),
    "e5-mistral-7b / NV-Embed-v2 decoder": dict(layers=32, hidden=4096, heads=32, kv=8, d=128, inter=14336, vocab=32000),
    "Qwen3-Embedding-8B": dict(layers=36, hidden=4096, heads=32, kv=8, d=128, inter=12288, vocab=151665),
    "Llama-Embed-Nemotron-8B": dict(layers=32, hidden=4096, heads=32, kv=8, d=128, inter=14336, vocab=128256),
    "70B (Llama-3-70B shape)": dict(layers=80, hidden=8192, heads=64, kv=8, d=128, inter=28672, vocab=128256),
}

# Datasheet figures (dense bf16 tensor-core FLOP/s, HBM, GPU-to-GPU link per direction).
GPUS = {"H100 SXM 80GB": dict(flops=989e12, mem=80, nvlink=450e9), "H200 141GB": dict(flops=989e12, mem=141, nvlink=450e9)}
PCIE5 = 64e9  # x16 per direction, before protocol overhead
EFFICIENCY = 0.6  # the SPEC §7 goal: >= 60% of the bf16 peak end to end
BF16 = 2
THINK_RECENT = 32


def layer_params(m):
    q, kv = m["heads"] * m["d"], m["kv"] * m["d"]
    return m["hidden"] * (q + 2 * kv) + q * m["hidden"] + 3 * m["hidden"] * m["inter"] + 2 * m["hidden"]


def params(m):
    return m["layers"] * layer_params(m) + m["vocab"] * m["hidden"] + m["hidden"]


def kv_bytes_per_token_layer(m, think_ratio):
    """Keys keep D - floor(D * ratio) channels (recent window aside), values all D (SPEC §5)."""
    kept = m["d"] - int(m["d"] * think_ratio)
    return m["kv"] * (kept + m["d"]) * BF16


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--doc-tokens", type=int, default=512, help="document length for the attention FLOPs")
    ap.add_argument("--think-ratio", type=float, default=0.5)
    a = ap.parse_args()
    gib = 1024.0**3
    print(f"# bench/scaling_plan.py --tokens {a.tokens} --doc-tokens {a.doc_tokens} --think-ratio {a.think_ratio}")
    print("# datasheet limits, not measurements; efficiency assumed %.0f%% of the bf16 peak" % (EFFICIENCY * 100))
    print()
    print("| model | params | weights bf16 | KV at %dk tokens | KV with ThinK %.2g | GFLOP/token | tokens/s per H100 at %.0f%% | all-reduce bytes/token-layer (TP) |"
          % (a.tokens // 1024, a.think_ratio, EFFICIENCY * 100))
    print("|---|---|---|---|---|---|---|---|")
    for name, m in MODELS.items():
        p = params(m)
        kv_full = kv_bytes_per_token_layer(m, 0.0) * m["layers"] * a.tokens / gib
        kv_think = kv_bytes_per_token_layer(m, a.think_ratio) * m["layers"] * a.tokens / gib
        attn = 2 * 2 * m["heads"] * m["d"] * a.doc_tokens / 2 * m["layers"]  # causal: QK^T and PV over half the keys
        flops = 2 * (p - m["vocab"] * m["hidden"]) + attn
        rate = GPUS["H100 SXM 80GB"]["flops"] * EFFICIENCY / flops
        allreduce = 2 * m["hidden"] * BF16
        print(f"| {name} | {p / 1e9:.2f} B | {p * BF16 / gib:.1f} GiB | {kv_full:.1f} GiB | {kv_think:.1f} GiB | "
              f"{flops / 1e9:.2f} | {rate:,.0f} | {allreduce:,} |")
    print()
    print("Tensor parallel, per token-layer per GPU (ring all-reduce moves 2 (N-1)/N of the message, 2 per layer):")
    print("| model | N | GEMM time at %.0f%% | NVLink time | PCIe 5 time | comm/compute NVLink | comm/compute PCIe |" % (EFFICIENCY * 100))
    print("|---|---|---|---|---|---|---|")
    for name, m in MODELS.items():
        if m["hidden"] < 4096:
            continue
        for n in (2, 4, 8):
            compute = 2 * layer_params(m) / n / (GPUS["H100 SXM 80GB"]["flops"] * EFFICIENCY)
            moved = 2 * (2 * (n - 1) / n) * m["hidden"] * BF16
            nv, pcie = moved / GPUS["H100 SXM 80GB"]["nvlink"], moved / PCIE5
            print(f"| {name} | {n} | {compute * 1e9:.1f} ns | {nv * 1e9:.1f} ns | {pcie * 1e9:.1f} ns | "
                  f"{nv / compute:.2f} | {pcie / compute:.2f} |")
    print()
    print("Memory per GPU (weights / N + KV / N at %dk tokens, one sequence), GiB:" % (a.tokens // 1024))
    print("| model | N=1 | N=2 | N=4 | N=8 | N=1 ThinK | N=2 ThinK | N=4 ThinK |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in MODELS.items():
        w = params(m) * BF16 / gib
        kv_full = kv_bytes_per_token_layer(m, 0.0) * m["layers"] * a.tokens / gib
        kv_think = kv_bytes_per_token_layer(m, a.think_ratio) * m["layers"] * a.tokens / gib
        cells = [f"{(w + kv_full) / n:.1f}" for n in (1, 2, 4, 8)] + [f"{(w + kv_think) / n:.1f}" for n in (1, 2, 4)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
