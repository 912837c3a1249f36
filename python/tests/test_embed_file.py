"""llmbed.embed_file: JSONL/text/Parquet in, .npy/Parquet out, through the
C job (llmbed_embed_file); rows equal encode's; a Parquet job stopped by
SIGINT resumes to the same output."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import llmbed
from conftest import SENTENCES

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TEXTS = [f"{s} {i}" for i in range(30) for s in SENTENCES]


def test_jsonl_to_npy_equals_encode(embedder, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"body": t, "id": i}) + "\n" for i, t in enumerate(TEXTS)))
    stats = llmbed.embed_file(embedder, source, tmp_path / "out.npy", text_column="body", prompt_name="query")
    assert stats.sequences == len(TEXTS) and stats.rows_total == len(TEXTS) and stats.tokens > 0
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), embedder.encode(TEXTS, prompt_name="query"))


def test_progress_lines(embedder, tmp_path, capfd):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    llmbed.embed_file(embedder, source, tmp_path / "out.npy", show_progress=True)
    assert f"llmbed: {len(TEXTS)} rows" in capfd.readouterr().err


def test_text_lines_to_sharded_npy(embedder, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    stats = llmbed.embed_file(embedder, source, tmp_path / "out.npy", shard_rows=50, precision="float16")
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    assert manifest["complete"] and stats.shards == len(manifest["shards"]) == 5
    rows = np.concatenate([np.load(tmp_path / s["file"]) for s in manifest["shards"]])
    np.testing.assert_array_equal(rows, embedder.encode(TEXTS, precision="float16"))
    again = llmbed.embed_file(embedder, source, tmp_path / "out.npy", shard_rows=50, precision="float16", resume=True)
    assert again.already_complete
    with pytest.raises(llmbed.ResumeMismatchError, match="dtype"):
        llmbed.embed_file(embedder, source, tmp_path / "out.npy", shard_rows=50, precision="int8", resume=True)


def write_parquet(path, n, row_group=1000):
    texts = [SENTENCES[i % len(SENTENCES)] + f" {i}" for i in range(n)]
    table = pa.table({"id": np.arange(n, dtype=np.int64) * 10, "text": texts})
    pq.write_table(table, path, row_group_size=row_group)
    return texts


def test_parquet_to_parquet_with_ids(embedder, tmp_path):
    texts = write_parquet(tmp_path / "in.parquet", 300)
    stats = llmbed.embed_file(embedder, tmp_path / "in.parquet", tmp_path / "out.parquet", id_column="id",
                              precision="int8", shard_rows=128)
    assert stats.rows_total == 300 and not (tmp_path / "out.parquet.parts").exists()
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == ["id", "embedding", "scale"]
    assert pa.types.is_fixed_size_list(table.schema.field("embedding").type)
    assert table.column("id").to_pylist() == list(range(0, 3000, 10))
    q, scales = embedder.encode(texts, precision="int8", return_scales=True)
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(got, q)
    np.testing.assert_array_equal(table.column("scale").to_numpy(), scales)


def test_bad_inputs_fail_clearly(embedder, tmp_path):
    table = pa.table({"text": ["fine", None, "also fine"]})
    pq.write_table(table, tmp_path / "nulls.parquet")
    with pytest.raises(llmbed.InputFormatError, match=":2:"):
        llmbed.embed_file(embedder, tmp_path / "nulls.parquet", tmp_path / "o.npy")
    assert not (tmp_path / "o.npy").exists()
    with pytest.raises(llmbed.ModelFileNotFoundError):
        llmbed.embed_file(embedder, tmp_path / "missing.jsonl", tmp_path / "o.npy")
    with pytest.raises(llmbed.InvalidArgumentError, match="output format"):
        llmbed.embed_file(embedder, tmp_path / "nulls.parquet", tmp_path / "o.csv")
    with pytest.raises(llmbed.OutputWriteError):
        llmbed.embed_file(embedder, tmp_path / "nulls.parquet", tmp_path / "no" / "such" / "dir" / "o.npy")
    with pytest.raises(Exception, match="no such column|text"):  # pyarrow names the missing column
        llmbed.embed_file(embedder, tmp_path / "nulls.parquet", tmp_path / "o.npy", text_column="body")


# The job in a child process, its Parquet reader slowed to 0.3 s per record
# batch so the SIGINT sent after the first committed shard always lands
# before the input ends, however fast or loaded the machine is.
RUN_JOB = """
import sys, time, llmbed, llmbed.jobs as jobs
read = jobs._parquet_columns
def slow(*args):
    for batch in read(*args):
        time.sleep(0.3)
        yield batch
jobs._parquet_columns = slow
llmbed.embed_file(sys.argv[1], sys.argv[2], sys.argv[3], id_column="id", shard_rows=500, resume=True, threads=1)
"""


def test_parquet_job_interrupted_then_resumed(embedder, text_model_path, tmp_path):
    texts = write_parquet(tmp_path / "in.parquet", 6000)
    out = tmp_path / "out.parquet"
    manifest = tmp_path / "out.parquet.parts" / "part.manifest.json"
    for attempt in range(3):
        job = subprocess.Popen([sys.executable, "-c", RUN_JOB, str(text_model_path), str(tmp_path / "in.parquet"),
                                str(out)], stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job.poll() is None:
            if manifest.exists() and json.loads(manifest.read_text() or "{}").get("shards"):
                break
            time.sleep(0.01)
        job.send_signal(signal.SIGINT)
        _, err = job.communicate(timeout=120)
        if job.returncode == 0:  # the job finished before the signal (a loaded machine): again, from scratch
            shutil.rmtree(manifest.parent, ignore_errors=True)
            out.unlink(missing_ok=True)
            continue
        break
    assert job.returncode != 0 and "ModelInterruptedError" in err, err
    committed = json.loads(manifest.read_text())
    assert 0 < committed["rows"] < len(texts) and not committed["complete"]
    stats = llmbed.embed_file(embedder, tmp_path / "in.parquet", out, id_column="id", shard_rows=500, resume=True)
    assert stats.resumed_rows == committed["rows"] and stats.rows_total == len(texts)
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == list(range(0, 60000, 10))
    rows = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    expected = embedder.encode(texts)
    # resumed windows start at a shard boundary, not at a 4096-line window: other batch
    # compositions, the same bits (a row depends only on its input)
    np.testing.assert_array_equal(rows, expected)
