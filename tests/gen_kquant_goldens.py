#!/usr/bin/env python3
"""Writes tests/data/kquants/: a GGUF file with one tensor per ggml block type
llmbed reads (legacy Q4_0..Q8_0 and Q5_0/Q5_1, K-quants Q2_K..Q8_K), written
by the `gguf` package's GGUFWriter, plus `<tensor name>.npy`, the expected fp32
values of every tensor, from the `gguf` package's own dequantize (the independent oracle; it
has no Q8_K, so Q8_K's expectation is ggml's dequantize_row_q8_K written out
here: x = d * q). tests/cpu/test_loader_kquants.cpp requires bit equality.

Blocks are random bytes, so every bit of every packed scale, min, high-bit
mask and quant field is exercised; only the fp16/fp32 scale fields are drawn
as finite values (NaN would make equality checks meaningless), including
half subnormals and negative scales. Two more tensors per legacy 5-bit type
come from the package's quantize() of random floats (blocks as a real
converter writes them).

Needs numpy and gguf only (.ci/install-deps installs both); deterministic:
    python3 tests/gen_kquant_goldens.py
"""
import pathlib

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = pathlib.Path(__file__).resolve().parent / "data" / "kquants"
QK_K = 256

# (type, rows, row elements, byte offsets of fp16 scales inside a block, byte offset of an fp32 scale)
TYPES = [
    (T.Q8_0, 3, 64, [0], None),
    (T.Q4_0, 3, 64, [0], None),
    (T.Q4_1, 3, 64, [0, 2], None),
    (T.Q5_0, 3, 96, [0], None),
    (T.Q5_1, 3, 96, [0, 2], None),
    (T.Q2_K, 2, 512, [80, 82], None),
    (T.Q3_K, 2, 512, [108], None),
    (T.Q4_K, 2, 512, [0, 2], None),
    (T.Q5_K, 2, 512, [0, 2], None),
    (T.Q6_K, 2, 512, [208], None),
    (T.Q8_K, 2, 512, [], 0),
]


def random_half(rng, n):
    """Finite fp16 values: mostly O(1e-2) as real scales, some subnormal, some negative."""
    v = (rng.standard_normal(n) * 0.02).astype(np.float16)
    sub = rng.random(n) < 0.15
    v[sub] = (rng.integers(1, 1024, sub.sum()).astype(np.uint16)).view(np.float16)
    return v


def random_blocks(rng, qtype, n_blocks, half_offsets, f32_offset):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for off in half_offsets:
        raw[:, off:off + 2] = random_half(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    if f32_offset is not None:
        d = (rng.standard_normal(n_blocks) * 0.01).astype(np.float32)
        raw[:, f32_offset:f32_offset + 4] = d.view(np.uint8).reshape(n_blocks, 4)
    return raw


def dequantize_q8_k(raw):
    """ggml-quants.c dequantize_row_q8_K: block_q8_K {float d; int8 qs[256]; int16 bsums[16]}, y = d * q."""
    d = raw[:, 0:4].copy().view(np.float32)
    q = raw[:, 4:4 + QK_K].copy().view(np.int8).astype(np.float32)
    return (d * q).astype(np.float32)


def dequantize(raw, qtype, shape):
    if qtype == T.Q8_K:
        return dequantize_q8_k(raw).reshape(shape)
    return gguf.dequantize(raw.reshape(shape[0], -1), qtype).astype(np.float32).reshape(shape)


def main():
    rng = np.random.default_rng(20261203)
    OUT.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(OUT / "kquants.gguf"), "llama")
    n_tensors = 0
    for qtype, rows, cols, half_offsets, f32_offset in TYPES:
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        n_blocks = rows * cols // block_elems
        raw = random_blocks(rng, qtype, n_blocks, half_offsets, f32_offset)
        name = f"random.{qtype.name.lower()}"
        byte_shape = (rows, cols // block_elems * block_bytes)
        writer.add_tensor(name, raw.reshape(byte_shape), raw_dtype=qtype)
        expected = dequantize(raw, qtype, (rows, cols))
        np.save(OUT / f"{name}.npy", expected)
        n_tensors += 1
    for qtype in (T.Q5_0, T.Q5_1, T.Q8_0):
        floats = (rng.standard_normal((4, 64)) * 0.1).astype(np.float32)
        packed = gguf.quantize(floats, qtype)
        name = f"quantized.{qtype.name.lower()}"
        writer.add_tensor(name, packed, raw_dtype=qtype)
        expected = gguf.dequantize(packed, qtype).astype(np.float32)
        np.save(OUT / f"{name}.npy", expected)
        n_tensors += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {OUT} ({n_tensors} tensors)")


if __name__ == "__main__":
    main()
