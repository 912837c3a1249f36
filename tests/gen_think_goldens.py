#!/usr/bin/env python3
"""Generates the chunked-prefill / ThinK goldens from the float64 reference of
SPEC §5 (golden_lib/think_reference.py), for tiny models with GQA (llama-tiny,
3 query heads per KV head), Qwen3's q/k norm with dynamic NTK RoPE
(qwen3-tiny) and Mistral (mistral-tiny).

Run from the repository root (offline, CPU only, numpy + safetensors, ~1 min):

    python3 tests/gen_think_goldens.py

Writes tests/data/goldens/think/<model>.npy (float64 pooled rows) and
tests/data/goldens/think/manifest.json (one case per row: model, sequence,
chunk, ratio, pooling). Before writing, it checks that ratio 0 in chunks
equals the single-pass reference forward to 1e-10, so the chunking itself is
verified against reference.py. Seeded: a re-run writes identical files."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from golden_lib import reference, think_reference  # noqa: E402

MODELS = ["llama-tiny", "qwen3-tiny", "mistral-tiny"]
LENGTHS = [97, 300, 700]
CHUNKS = [64, 128]
RATIOS = [0.0, 0.25, 0.5, 0.75]
OUT = os.path.join(HERE, "data", "goldens", "think")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261202)
    manifest = {"observation_window": think_reference.OBSERVATION_WINDOW,
                "recent_window": think_reference.RECENT_WINDOW, "models": []}
    for name in MODELS:
        cfg, weights = reference.load_folder(os.path.join(HERE, "data", "models", name))
        vocab = weights[next(k for k in weights if k.endswith("embed_tokens.weight"))].shape[0]
        sequences = [rng.integers(0, vocab, n).tolist() for n in LENGTHS]
        rows, cases = [], []
        for s, ids in enumerate(sequences):
            single, _ = reference.forward(cfg, weights, ids, bidirectional=False, early_exit_layer=0)
            for chunk in CHUNKS:
                for ratio in RATIOS:
                    hidden = think_reference.chunked_forward(cfg, weights, ids, chunk, ratio)
                    if ratio == 0:
                        err = np.abs(hidden - single).max()
                        assert err < 1e-10, f"{name} n={len(ids)} chunk {chunk}: chunked != single pass ({err})"
                    for pooling, row in (("last", hidden[-1]), ("mean", hidden.mean(0))):
                        cases.append({"sequence": s, "chunk": chunk, "ratio": ratio, "pooling": pooling,
                                      "row": len(rows)})
                        rows.append(row)
            print(f"{name}: n={len(ids)} done", flush=True)
        np.save(os.path.join(OUT, f"{name}.npy"), np.asarray(rows, dtype=np.float64))
        manifest["models"].append({"model": name, "model_path": f"models/{name}", "file": f"{name}.npy",
                                   "hidden_size": cfg["hidden"], "sequences": sequences, "cases": cases})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
