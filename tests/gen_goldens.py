#!/usr/bin/env python3
"""Generates llmbed's committed test models and golden outputs.

Run from the repository root (offline, CPU only):

    python3 tests/gen_goldens.py                    # models and goldens (15-60 s)
    python3 tests/gen_goldens.py --models-only      # models and GGUF files only
    python3 tests/gen_goldens.py --only qwen3-tiny  # goldens of some models

Every golden is computed twice, by transformers in float64 and by the numpy
reference, and the run stops if they differ by more than 1e-10.

Needs torch, transformers 5.x, safetensors, numpy and gguf (gguf-py) from PyPI.
CI does not run this: the outputs under tests/data/models and
tests/data/goldens are committed, and the C++ tests read them. Every random
draw is seeded, so a re-run rewrites identical files.

What it writes:
  tests/data/models/<name>/{config.json,model.safetensors}: tiny random-weight
      Hugging Face models for every architecture and rope variant
      (golden_lib/specs.py); float32 weights.
  tests/data/models/<name>.gguf: GGUF files written with gguf-py, tensor
      types mixing F32, F16, BF16, Q8_0, Q4_0 and Q4_1 (golden_lib/gguf_export.py).
  tests/data/goldens/<name>/manifest.json + *.npy: float64 reference outputs
      (stored as float32) of transformers' eager forward, with the fp32
      roundings transformers 5.x keeps in RMSNorm, the softmax and RoPE
      removed (golden_lib/hf_float64.py), cross-checked against an
      independent numpy float64 forward (golden_lib/reference.py).
"""
import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import gguf  # noqa: E402

from golden_lib import build_models, cases, gguf_export, hf_float64, reference, specs  # noqa: E402

DATA = os.path.join(HERE, "data")
MODELS_DIR = os.path.join(DATA, "models")
GOLDENS_DIR = os.path.join(DATA, "goldens")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-only", action="store_true", help="write the models, skip goldens")
    parser.add_argument("--only", help="comma-separated model names (default: all)")
    args = parser.parse_args()

    os.makedirs(MODELS_DIR, exist_ok=True)
    built = {}
    for spec in specs.SAFETENSORS_MODELS:
        out = os.path.join(MODELS_DIR, spec["name"])
        shutil.rmtree(out, ignore_errors=True)
        built[spec["name"]] = build_models.build_model(spec, out)
        print(f"model {spec['name']}: {out}")
    gguf_outputs = {}
    for spec in specs.GGUF_MODELS:
        out = os.path.join(MODELS_DIR, spec["name"] + ".gguf")
        model = build_models.create_model(spec)
        gguf_outputs[spec["name"]] = gguf_export.write_gguf(spec, model, out)
        print(f"model {spec['name']}: {out}")
    if args.models_only:
        return

    hf_float64.patch_transformers()
    only = set(args.only.split(",")) if args.only else None
    for spec in specs.SAFETENSORS_MODELS:
        if only is None or spec["name"] in only:
            write_safetensors_goldens(spec)
    for spec in specs.GGUF_MODELS:
        if only is None or spec["name"] in only:
            write_gguf_goldens(spec, *gguf_outputs[spec["name"]])


# Agreement required between transformers (float64-patched) and the numpy
# reference: both are float64, so anything above rounding noise is a bug in
# one of them.
REFERENCE_TOLERANCE = 1e-10


def check_reference(name, case, ours, theirs, worst):
    err = float(np.abs(ours - theirs).max())
    worst[0] = max(worst[0], err)
    if err > REFERENCE_TOLERANCE:
        raise SystemExit(f"{name} {case}: transformers float64 and numpy reference differ by {err:g}")


def hf_minicpm(spec, model_dir):
    """MiniCPM through transformers' Llama: scale_depth/sqrt(L) folded into
    o_proj and down_proj (MiniCPM scales both residual branches), embeddings
    scaled by the caller (scale_emb)."""
    cfg, weights = reference.load_folder(model_dir)
    folded = dict(weights)
    for key in weights:
        if key.endswith("o_proj.weight") or key.endswith("down_proj.weight"):
            folded[key] = weights[key].astype(np.float64) * cfg["residual_scale"]
    model = hf_float64.from_weights(build_models.hf_config(spec), folded)
    return model, cfg["scale_emb"]


def sequence_ids(name, vocab, lengths):
    rng = np.random.default_rng(build_models.model_seed(name))
    return [rng.integers(0, vocab, n).tolist() for n in lengths]


def pooled_entries(hidden, early, n):
    entries = []
    for kind in cases.POOLINGS:
        for instruction_len in ([0, specs.INSTRUCTION_LEN] if n > specs.INSTRUCTION_LEN else [0]):
            entries.append((kind, instruction_len, 0, cases.pool(hidden, kind, instruction_len)))
    entries.append(("mean", 0, specs.EARLY_EXIT_LAYER, cases.pool(early, "mean", 0)))
    return entries


def write_safetensors_goldens(spec):
    name = spec["name"]
    model_dir = os.path.join(MODELS_DIR, name)
    cfg, weights = reference.load_folder(model_dir)
    if spec["model_type"] == "minicpm":
        model, scale_emb = hf_minicpm(spec, model_dir)
    else:
        model, scale_emb = hf_float64.load_float64(model_dir), None
    out_dir = os.path.join(GOLDENS_DIR, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    writer = cases.GoldenWriter(out_dir, dict(
        model=name, model_path=f"models/{name}", architecture=spec["model_type"],
        hidden_size=cfg["hidden"], n_layers=cfg["n_layers"], rope_type=cfg["rope_type"]))
    worst = [0.0]
    all_ids = sequence_ids(name, spec["config"]["vocab_size"], specs.SEQ_LENGTHS)
    for ids in all_ids:
        n = len(ids)
        seq = writer.add_sequence(ids)
        results = {}
        for attention in ("causal", "bidirectional"):
            bidirectional = attention == "bidirectional"
            hidden, early = hf_float64.run(model, ids, bidirectional, specs.EARLY_EXIT_LAYER, scale_emb)
            ref_hidden, ref_early = reference.forward(cfg, weights, ids, bidirectional, specs.EARLY_EXIT_LAYER)
            check_reference(name, f"{attention} n={n}", hidden, ref_hidden, worst)
            check_reference(name, f"{attention} n={n} layer {specs.EARLY_EXIT_LAYER}", early, ref_early, worst)
            writer.add_hidden(seq, attention, hidden)
            writer.add_pooled(seq, attention, pooled_entries(hidden, early, n))
            results[attention] = hidden
        # The goldens must be able to tell the variants apart.
        if n > 1 and np.abs(results["causal"][0] - results["bidirectional"][0]).max() < 1e-3:
            raise SystemExit(f"{name} n={n}: bidirectional run looks causal")
    if cfg["rope_type"] != "default":
        ids = all_ids[-1]
        plain = reference.forward(dict(cfg, rope_type="default"), weights, ids, False, 1)[0]
        scaled = reference.forward(cfg, weights, ids, False, 1)[0]
        if np.abs(plain - scaled).max() < 1e-3:
            raise SystemExit(f"{name}: rope scaling {cfg['rope_type']} does not change the output")
    writer.write()
    print(f"goldens {name}: {len(writer.manifest['cases'])} cases, transformers vs numpy max |diff| {worst[0]:.2e}")


def write_gguf_goldens(spec, dequant, hf_weights):
    name = spec["name"]
    gguf_path = os.path.join(MODELS_DIR, name + ".gguf")
    out_dir = os.path.join(GOLDENS_DIR, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    cfg = reference.normalized_config(dict(spec["config"], model_type=spec["model_type"]))
    writer = cases.GoldenWriter(out_dir, dict(
        model=name, model_path=f"models/{name}.gguf", architecture=spec["gguf_arch"],
        hidden_size=cfg["hidden"], n_layers=cfg["n_layers"], rope_type=cfg["rope_type"]))

    # (a) exact dequantisation: gguf-py re-reads the file and must reproduce
    # what was written before the arrays become goldens.
    reader = gguf.GGUFReader(gguf_path)
    stored = {t.name: t for t in reader.tensors}
    writer.manifest["dequant"] = []
    for tensor_name, (type_name, values) in sorted(dequant.items()):
        tensor = stored[tensor_name]
        again = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(values.shape)
        if tensor.tensor_type.name != type_name or not np.array_equal(again, values):
            raise SystemExit(f"{name}: {tensor_name} does not read back as written")
        file = f"dequant/{tensor_name}.npy"
        writer.save_array(file, values.astype(np.float32))
        writer.manifest["dequant"].append(dict(tensor=tensor_name, type=type_name, file=file))

    # (b) embeddings of a float64 model holding the dequantised weights.
    model = hf_float64.from_weights(build_models.hf_config(spec), hf_weights)
    worst = [0.0]
    for ids in sequence_ids(name, spec["config"]["vocab_size"], specs.GGUF_SEQ_LENGTHS):
        n = len(ids)
        seq = writer.add_sequence(ids)
        hidden, early = hf_float64.run(model, ids, False, specs.EARLY_EXIT_LAYER)
        ref_hidden, _ = reference.forward(cfg, hf_weights, ids, False, specs.EARLY_EXIT_LAYER)
        check_reference(name, f"causal n={n}", hidden, ref_hidden, worst)
        writer.add_hidden(seq, "causal", hidden)
        writer.add_pooled(seq, "causal", [(kind, 0, 0, cases.pool(hidden, kind, 0)) for kind in ("mean", "last")])
    writer.write()
    print(f"goldens {name}: {len(writer.manifest['dequant'])} dequantised tensors, "
          f"{len(writer.manifest['cases'])} cases, transformers vs numpy max |diff| {worst[0]:.2e}")


if __name__ == "__main__":
    main()
