"""llmbed.ray.EmbedBatches on a local Ray cluster (2 CPU actors; 4 logical CPUs so Ray Data's read and write tasks can run beside them) through
examples/ray_embed.py's pipeline: every one of >= 10k rows equals the
single-process encode() of its text, matched by id."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, SENTENCES

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ray = pytest.importorskip("ray")

import llmbed  # noqa: E402
from llmbed.ray import EmbedBatches  # noqa: E402

N_ROWS = 10_000


def test_embed_batches_on_a_table(embedder, text_model_path):
    step = EmbedBatches(str(text_model_path), threads=1, pooling="mean")
    table = pa.table({"id": [3, 1], "text": ["the cat", "a dog"]})
    out = step(table)
    assert out.column_names == ["id", "text", "embedding"]
    assert out.schema.field("embedding").type == pa.list_(pa.float32(), 48)
    np.testing.assert_array_equal(np.stack(out.column("embedding").to_numpy(zero_copy_only=False)),
                                  embedder.encode(["the cat", "a dog"], pooling="mean"))
    out = step({"id": np.array([1]), "text": np.array(["the cat"], dtype=object)})  # Ray's numpy batches
    assert out.num_rows == 1
    with pytest.raises(KeyError, match="no column 'body'"):
        EmbedBatches(str(text_model_path), text_column="body", threads=1)(table)


def test_ray_example_equals_single_process(embedder, text_model_path, tmp_path):
    texts = [f"{SENTENCES[i % len(SENTENCES)]} {i}" for i in range(N_ROWS)]
    source = tmp_path / "in"
    source.mkdir()
    for part in range(4):  # a Parquet folder, as the example reads
        rows = range(part * N_ROWS // 4, (part + 1) * N_ROWS // 4)
        pq.write_table(pa.table({"id": list(rows), "text": [texts[i] for i in rows]}), source / f"part-{part}.parquet")
    output = tmp_path / "out"
    env = dict(os.environ, RAY_ENABLE_UV_RUN_RUNTIME_ENV="0", RAY_USAGE_STATS_ENABLED="0")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(REPO / "examples" / "ray_embed.py"), "--model", str(text_model_path),
                          "--input", str(source), "--output", str(output), "--actors", "2", "--cpus-per-actor", "1",
                          "--batch-size", "1000", "--num-cpus", "4", "--blocks", "8", "--encode", '{"pooling": "mean"}'],
                         capture_output=True, text=True, env=env, timeout=600)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-3000:]
    table = pq.read_table(output).sort_by("id")
    assert table.num_rows == N_ROWS and table.column("id").to_pylist() == list(range(N_ROWS))
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    want = embedder.encode(texts, pooling="mean")
    identical = int((got == want).all(axis=1).sum())
    diff = float(np.abs(got - want).max())
    print(f"ray: {N_ROWS} rows, {identical} bit-identical, max |diff| {diff:.2e}, {seconds:.1f} s")
    # Ray's batches of 1000 pack differently from one 4096-text window, but a
    # row depends only on its own input (the CPU backend's batch-invariant GEMM).
    assert np.isfinite(got).all() and diff == 0.0 and identical == N_ROWS
