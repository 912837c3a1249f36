"""Pooling definitions and the golden manifest/.npy layout read by
tests/cpu/test_goldens.cpp and tests/cpu/test_gguf_goldens.cpp.

Layout of tests/data/goldens/<model>/:
  manifest.json  {"model", "model_path" (relative to tests/data), "architecture",
                  "hidden_size", "n_layers", "sequences": [{"ids": [...]}, ...],
                  "cases": [{"sequence", "attention", "pooling", "instruction_len",
                             "layer", "file", "row"}], "dequant": [...] (GGUF only)}
  <file>.npy     float32, C order: hidden_<attention>_n<len>.npy [len, hidden]
                 (pooling "none", row -1) or pooled_<attention>_n<len>.npy
                 [cases, hidden] (case uses row `row`).
Pooled goldens are NOT normalised (embed with normalize = 0)."""
import json
import os

import numpy as np

POOLINGS = ("last", "mean", "first", "weighted_mean")


def pool(hidden, kind, instruction_len):
    """hidden [n, d] float64 -> [d] over tokens [instruction_len, n).

    weighted_mean uses weight k + 1 for the k-th pooled token (SGPT's
    position weights restarted after the instruction, as MiniCPM-Embedding's
    attention_mask.cumsum and host/op_params.h define it)."""
    rows = hidden[instruction_len:]
    if kind == "last":
        return rows[-1]
    if kind == "first":
        return rows[0]
    if kind == "mean":
        return rows.mean(0)
    if kind == "weighted_mean":
        weights = np.arange(1, len(rows) + 1, dtype=np.float64)
        return (weights[:, None] * rows).sum(0) / weights.sum()
    raise ValueError(kind)


class GoldenWriter:
    """Collects sequences and cases for one model and writes its folder."""

    def __init__(self, out_dir, header):
        self.out_dir = out_dir
        self.manifest = dict(header, sequences=[], cases=[])
        os.makedirs(out_dir, exist_ok=True)

    def add_sequence(self, ids):
        self.manifest["sequences"].append({"ids": [int(i) for i in ids]})
        return len(self.manifest["sequences"]) - 1

    def add_hidden(self, seq, attention, hidden):
        n = len(self.manifest["sequences"][seq]["ids"])
        name = f"hidden_{attention}_n{n}.npy"
        np.save(os.path.join(self.out_dir, name), hidden.astype(np.float32))
        self.manifest["cases"].append(dict(sequence=seq, attention=attention, pooling="none",
                                           instruction_len=0, layer=0, file=name, row=-1))

    def add_pooled(self, seq, attention, entries):
        """entries: list of (pooling, instruction_len, layer, vector [d])."""
        n = len(self.manifest["sequences"][seq]["ids"])
        name = f"pooled_{attention}_n{n}.npy"
        np.save(os.path.join(self.out_dir, name),
                np.stack([vec for *_, vec in entries]).astype(np.float32))
        for row, (kind, instruction_len, layer, _) in enumerate(entries):
            self.manifest["cases"].append(dict(sequence=seq, attention=attention, pooling=kind,
                                               instruction_len=instruction_len, layer=layer,
                                               file=name, row=row))

    def save_array(self, name, array):
        path = os.path.join(self.out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, array)

    def write(self):
        with open(os.path.join(self.out_dir, "manifest.json"), "w") as f:
            json.dump(self.manifest, f, indent=1)
            f.write("\n")
