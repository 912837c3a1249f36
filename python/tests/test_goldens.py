"""The committed float64 goldens (tests/data/goldens/<model>/manifest.json,
layout in tests/golden_lib/cases.py) through Embedder.encode on token-id
input: every pooled case without an instruction mask, raw and, for mean and
last pooling, L2-normalised with a Matryoshka width."""
import json

import numpy as np
import pytest

import llmbed
from conftest import DATA, GOLDEN_MAX_ABS, GOLDEN_MIN_COSINE, agreement

# Whole-forward goldens only: goldens/think holds the long-input (ThinK)
# references in another layout, checked by tests/cpu/test_chunked.cpp.
# embeddinggemma-tiny's pooled goldens are the transformer's (before its Dense modules), which
# encode() applies: its sentence-transformers rows are checked in tests/cpu/test_gemma.cpp.
MANIFESTS = sorted(p for p in (DATA / "goldens").glob("*/manifest.json")
                   if "cases" in json.loads(p.read_text()) and p.parent.name != "embeddinggemma-tiny")


def load_cases(manifest_path):
    manifest = json.loads(manifest_path.read_text())
    cache = {}
    cases = []
    for case in manifest["cases"]:
        if case["pooling"] == "none" or case["instruction_len"] != 0:
            continue  # per-token states and instruction masks are not offered on token input
        if case["file"] not in cache:
            cache[case["file"]] = np.load(manifest_path.parent / case["file"])
        cases.append((case, cache[case["file"]][case["row"]]))
    return manifest, cases


def test_goldens_are_there():
    assert len(MANIFESTS) >= 8


@pytest.mark.parametrize("manifest_path", MANIFESTS, ids=[p.parent.name for p in MANIFESTS])
def test_goldens_through_encode(manifest_path):
    manifest, cases = load_cases(manifest_path)
    assert cases
    hidden = manifest["hidden_size"]
    worst_cos, worst_abs = 1.0, 0.0
    with llmbed.Embedder(DATA / manifest["model_path"], threads=1) as m:
        for case, want in cases:
            ids = manifest["sequences"][case["sequence"]]["ids"]
            # max_tokens 0: some golden sequences are longer than the tiny configs' max_positions
            kwargs = dict(pooling=case["pooling"], attention=case["attention"], layer=case["layer"] or None, max_tokens=0)
            got = m.encode([ids], normalize_embeddings=False, **kwargs)
            cos, diff = agreement(got, want[None])
            assert cos >= GOLDEN_MIN_COSINE and diff <= GOLDEN_MAX_ABS, (case, cos, diff)
            worst_cos, worst_abs = min(worst_cos, cos), max(worst_abs, diff)
            if case["pooling"] in ("mean", "last") and case["layer"] == 0:
                width = hidden // 2 + 1
                got = m.encode([ids], normalize_embeddings=True, truncate_dim=width, **kwargs)
                expected = want[:width] / np.linalg.norm(want[:width])
                cos, diff = agreement(got, expected[None])
                assert cos >= GOLDEN_MIN_COSINE and diff <= GOLDEN_MAX_ABS, (case, "dims", cos, diff)
    print(f"{manifest['model']}: {len(cases)} cases, worst cosine {worst_cos:.9f}, max |diff| {worst_abs:.2e}")


def test_golden_check_can_fail():
    """A deliberately wrong input (another sequence's golden) fails the same check."""
    manifest, cases = load_cases(MANIFESTS[0])
    (case_a, _), (_, want_b) = cases[0], next((c, w) for c, w in cases if c["sequence"] != cases[0][0]["sequence"])
    with llmbed.Embedder(DATA / manifest["model_path"], threads=1) as m:
        ids = manifest["sequences"][case_a["sequence"]]["ids"]
        got = m.encode([ids], normalize_embeddings=False, pooling=case_a["pooling"], attention=case_a["attention"])
    cos, diff = agreement(got, want_b[None])
    assert not (cos >= GOLDEN_MIN_COSINE and diff <= GOLDEN_MAX_ABS)
