"""encode() equals `llmbed embed` bit for bit: same defaults, same batches
(encode hands the C library windows of 4096 texts, the CLI job's window),
same output conversion. Also `python -m llmbed` forwards to the CLI."""
import subprocess
import sys

import numpy as np
import pytest

import llmbed
from conftest import SENTENCES

TEXTS = [f"{s} {i}" for i in range(40) for s in SENTENCES]
TWO_WINDOWS = [f"a {i}" if i % 3 else f"the cat {i}" for i in range(4200)]  # > 4096 lines


def cli_embed(model, lines, tmp_path, *args):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.npy"
    subprocess.run([str(llmbed.cli_path()), "embed", "--model", str(model), "--input", str(source), "--output",
                    str(out), "--threads", "1", "--quiet", *args], check=True, capture_output=True)
    return np.load(out)


@pytest.mark.parametrize("cli_args, kwargs", [
    ([], {}),
    (["--prompt-name", "query", "--pooling", "mean", "--dims", "17"], {"prompt_name": "query", "pooling": "mean",
                                                                       "truncate_dim": 17}),
    (["--dtype", "int8", "--attention", "bidirectional"], {"precision": "int8", "attention": "bidirectional"}),
    (["--dtype", "ubinary", "--max-tokens", "9", "--layer", "2"], {"precision": "ubinary", "max_tokens": 9, "layer": 2}),
])
def test_encode_equals_cli(embedder, text_model_path, tmp_path, cli_args, kwargs):
    texts = TWO_WINDOWS if not kwargs else TEXTS
    want = cli_embed(text_model_path, texts, tmp_path, *cli_args)
    got = embedder.encode(texts, **kwargs)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if kwargs.get("precision") == "int8":
        _, scales = embedder.encode(texts, return_scales=True, **kwargs)
        np.testing.assert_array_equal(scales, np.load(tmp_path / "out.scales.npy"))


def test_python_dash_m_forwards_to_the_cli(text_model_path):
    version = subprocess.run([sys.executable, "-m", "llmbed", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("llmbed 0.1.0")
    info = subprocess.run([sys.executable, "-m", "llmbed", "info", "--model", str(text_model_path)],
                          capture_output=True, text=True)
    assert info.returncode == 0 and "llama" in info.stdout
    bad = subprocess.run([sys.executable, "-m", "llmbed", "embed", "--model", "/nonexistent", "--output", "/tmp/x.npy"],
                         capture_output=True, text=True)
    assert bad.returncode == 3 and "/nonexistent" in bad.stderr  # the CLI's exit status: LLMBED_ERR_FILE_NOT_FOUND
