"""``llmbed.embed_file``: batch jobs over files, on the C job machinery.

The job itself -- streaming read-ahead windows, tokenisation on worker
threads, token-budget batches, atomic output, numbered shards with a
manifest of sizes and CRC-32s, resume after a kill -- is the ``llmbed
embed`` job (host/scheduler/job.c) behind ``llmbed_embed_file``. This module
adds only what needs pyarrow:

* Parquet input (a file or a folder of them): the text column is streamed,
  one record batch at a time, as JSONL lines into a FIFO the C job reads.
  The byte stream is a pure function of the Parquet data, so a resumed job
  regenerates it and the C reader skips to the manifest's offset.
* Parquet output: the C job writes ``.npy`` shards and their manifest into
  ``<output>.parts/``; when it completes, the shards are copied one at a
  time into ``<output>`` (written to a temporary name, then renamed) with an
  ``embedding`` column (fixed-size list, Arrow-native), the ``id`` column
  when ``id_column`` is given, and ``scale`` for int8; then the parts go.

Memory stays bounded: the C job's three windows, one Parquet record batch,
one shard.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import threading
import time
from ctypes import byref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from . import _capi
from .embedder import Embedder, _NUMPY_DTYPES, _optional_int, _to_bytes
from .errors import check, error_for, invalid_argument, wrong_type

PARQUET_SUFFIXES = (".parquet", ".pq")
DEFAULT_PARQUET_SHARD_ROWS = 65536


@dataclass(frozen=True)
class FileStats:
    """Counts of one ``embed_file`` run (``llmbed_file_stats``)."""

    sequences: int
    tokens: int
    truncated: int
    skipped: int
    batches: int
    resumed_rows: int
    rows_total: int
    shards: int
    seconds: float
    already_complete: bool
    output: str

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def _is_parquet(path: Path) -> bool:
    if path.is_dir():
        return True
    return path.suffix.lower() in PARQUET_SUFFIXES


def _parquet_dataset(path: Path):
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet")


def _parquet_identity(path: Path) -> str:
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    size = sum(f.stat().st_size for f in files)
    return f"parquet:{path.resolve()}:{len(files)} files:{size} bytes"


def _parquet_columns(path: Path, columns) -> Iterator:
    """Record batches of `columns`, in file and row order."""
    scanner = _parquet_dataset(path).scanner(columns=list(columns), use_threads=False, batch_size=8192)
    yield from scanner.to_batches()


class _FifoFeeder(threading.Thread):
    """Writes the text column as JSONL lines into a FIFO for the C job.

    On a read failure it sets the job's stop flag *before* closing the FIFO,
    so the job sees the stop before it could see the end of input and never
    commits a short output as complete.
    """

    def __init__(self, fifo: str, source: Path, text_column: str, stop, finished: threading.Event):
        super().__init__(daemon=True, name="llmbed-parquet-feeder")
        self.fifo, self.source, self.text_column = fifo, source, text_column
        self.stop, self.finished = stop, finished
        self.error: Optional[BaseException] = None

    def _open(self) -> Optional[int]:
        # Non-blocking until the C job opens its end: a job that fails before
        # reading (a bad output path, a resume mismatch) must not hang us.
        while not self.finished.is_set():
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                time.sleep(0.005)
                continue
            os.set_blocking(fd, True)
            return fd
        return None

    def run(self) -> None:
        fd = None
        try:
            fd = self._open()
            if fd is None:
                return
            with os.fdopen(fd, "wb", buffering=1 << 20) as out:
                fd = None
                for batch in _parquet_columns(self.source, [self.text_column]):
                    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                                    for t in batch.column(0).to_pylist())
                    out.write(_to_bytes(lines))
        except BrokenPipeError:
            pass  # the job stopped reading (it failed or was stopped): its status says why
        except BaseException as e:  # noqa: BLE001 - reported by embed_file
            self.error = e
            self.stop[0] = 1
        finally:
            if fd is not None:
                os.close(fd)


def _ids_in_order(source: Path, parquet_input: bool, id_column: str) -> Iterator:
    if parquet_input:
        for batch in _parquet_columns(source, [id_column]):
            yield from batch.column(0).to_pylist()
        return
    with open(source, "rb") as f:  # the C job's line rule: '{' starts a JSON object
        for line in f:
            yield json.loads(line).get(id_column) if line.startswith(b"{") else None


def _assemble_parquet(parts_manifest: Path, output: Path, precision: str, dims: int, ids: Optional[Iterator]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = json.loads(parts_manifest.read_text())
    folder = parts_manifest.parent
    value_type = {"float32": pa.float32(), "float16": pa.float16(), "int8": pa.int8(), "ubinary": pa.uint8()}[precision]
    tmp = output.with_name(output.name + ".tmp")
    writer = None
    try:
        for shard in manifest["shards"]:
            rows = np.load(folder / shard["file"], mmap_mode="r")
            width = rows.shape[1]
            flat = pa.array(np.ascontiguousarray(rows).reshape(-1), type=value_type)
            columns, names = [pa.FixedSizeListArray.from_arrays(flat, width)], ["embedding"]
            if shard.get("sidecar"):
                columns.append(pa.array(np.load(folder / shard["sidecar"]), type=pa.float32()))
                names.append("scale")
            if ids is not None:
                columns.insert(0, pa.array([next(ids) for _ in range(len(rows))]))
                names.insert(0, "id")
            table = pa.Table.from_arrays(columns, names=names)
            if writer is None:
                metadata = {b"llmbed": json.dumps({"precision": precision, "dims": dims,
                                                   "job": manifest.get("job")}).encode()}
                writer = pq.ParquetWriter(str(tmp), table.schema.with_metadata(metadata))
            writer.write_table(table)
        if writer is None:  # no rows at all
            schema = pa.schema([("embedding", pa.list_(value_type, dims))])
            writer = pq.ParquetWriter(str(tmp), schema)
        writer.close()
        writer = None
        os.replace(tmp, output)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()


def embed_file(
    model: Union[Embedder, str, os.PathLike],
    input: Union[str, os.PathLike],
    output: Union[str, os.PathLike],
    *,
    text_column: str = "text",
    id_column: Optional[str] = None,
    prompt: Optional[str] = None,
    prompt_name: Optional[str] = None,
    pooling: Optional[str] = None,
    attention: Optional[str] = None,
    normalize_embeddings: Optional[bool] = None,
    truncate_dim: Optional[int] = None,
    precision: str = "float32",
    layer: Optional[int] = None,
    max_tokens: Optional[int] = None,
    truncate: bool = True,
    exclude_prompt: Optional[bool] = None,
    skip_invalid: bool = False,
    shard_rows: Optional[int] = None,
    resume: bool = False,
    tokenize_threads: Optional[int] = None,
    show_progress: bool = False,
    **embedder_kwargs,
) -> FileStats:
    """Embeds every record of ``input`` into ``output`` with the CLI's batch job.

    input: Parquet (a ``.parquet`` file or a folder of them; ``text_column``
        holds the text), or text/JSONL lines as ``llmbed embed`` reads them
        (JSON objects take the text from ``text_column``; ``{"input_ids": [...]}``
        lines are pre-tokenised).
    output: ``.npy``, ``.safetensors`` or ``.jsonl`` (written by the C job;
        ``shard_rows`` N gives numbered shards + a manifest), or ``.parquet``
        (columns ``id`` when ``id_column`` is given, ``embedding`` as a
        fixed-size list, ``scale`` for int8; always staged as shards, default
        65536 rows, so it is always resumable).
    model: an ``Embedder`` (its first free context is used) or a model path
        (then ``embedder_kwargs`` such as device, threads, batch_tokens go to
        the ``Embedder`` created for this call).
    resume: continue a killed or interrupted sharded job from its manifest
        (the job's options must be the same; ``ResumeMismatchError`` names
        the first that differs).
    The other keyword arguments are those of ``Embedder.encode``;
    ``skip_invalid`` counts and skips bad lines instead of failing.

    Ctrl-C stops at the next batch: committed shards stay, and ``resume=True``
    continues (``llmbed.ModelInterruptedError`` is raised). Returns ``FileStats``.
    """
    owned = None
    if not isinstance(model, Embedder):
        owned = model = Embedder(model, **embedder_kwargs)
    elif embedder_kwargs:
        raise wrong_type(f"embed_file: {', '.join(embedder_kwargs)} apply only when model is a path")
    try:
        return _run(model, Path(input), Path(output), text_column, id_column, prompt, prompt_name, pooling, attention,
                    normalize_embeddings, truncate_dim, precision, layer, max_tokens, truncate, exclude_prompt,
                    skip_invalid, shard_rows, resume, tokenize_threads, show_progress)
    finally:
        if owned is not None:
            owned.close()


def _run(model: Embedder, source: Path, output: Path, text_column, id_column, prompt, prompt_name, pooling,
         attention, normalize_embeddings, truncate_dim, precision, layer, max_tokens, truncate, exclude_prompt,
         skip_invalid, shard_rows, resume, tokenize_threads, show_progress) -> FileStats:
    for name, value in (("text_column", text_column), ("id_column", id_column)):
        if value is not None and not isinstance(value, str):
            raise wrong_type(f"{name}: expected a str, got {type(value).__name__}")
    if precision not in _NUMPY_DTYPES:
        raise invalid_argument(f"precision '{precision}': expected one of {', '.join(_NUMPY_DTYPES)}")
    if prompt is not None and prompt_name is not None:
        raise invalid_argument("prompt and prompt_name exclude each other")
    if prompt_name is not None:
        prompt = model.prompt(prompt_name)
    if not source.exists():
        raise error_for(3, f"{source}: no such input file or folder")
    parquet_input = _is_parquet(source)
    parquet_output = output.suffix.lower() in PARQUET_SUFFIXES
    shard_rows = _optional_int("shard_rows", shard_rows, 0)
    if parquet_output:
        if id_column is not None and skip_invalid:
            raise invalid_argument("skip_invalid with id_column is not offered for Parquet output: "
                                   "a skipped record would shift the ids against the rows")
        shard_rows = shard_rows or DEFAULT_PARQUET_SHARD_ROWS
        parts = output.with_name(output.name + ".parts")
        if resume and output.exists() and not parts.exists():
            return FileStats(0, 0, 0, 0, 0, 0, -1, 0, 0.0, True, str(output))
        parts.mkdir(parents=True, exist_ok=True)
        job_output = parts / "part.npy"
    else:
        job_output = output
    tokenize_threads = _optional_int("tokenize_threads", tokenize_threads, 0) or 0

    params = model._embed_params(pooling, attention, normalize_embeddings, truncate_dim, layer)
    _, dims = model._resolve(params)
    file_params = _capi.filled(_capi.llmbed_file_params, "llmbed_file_params_default")
    text = file_params.text
    keep = []  # bytes objects the struct points into
    def c_str(value: Optional[str]):
        if value is None:
            return None
        keep.append(value.encode())
        return keep[-1]
    text.prompt = c_str(prompt) if prompt else None
    if exclude_prompt is not None:
        text.exclude_prompt = int(bool(exclude_prompt))
    limit = _optional_int("max_tokens", max_tokens, -1)
    if limit is not None:
        text.max_tokens = -1 if limit == 0 else limit
    text.truncate = int(bool(truncate))
    text.precision = _capi.PRECISION[precision]
    file_params.output_path = c_str(str(job_output))
    file_params.skip_invalid = int(bool(skip_invalid))
    file_params.shard_rows = shard_rows or 0
    file_params.resume = int(bool(resume))
    file_params.tokenize_threads = tokenize_threads
    if not parquet_output and id_column is not None:
        file_params.id_field = c_str(id_column)
    stop = (ctypes.c_int * 1)(0)
    file_params.stop = ctypes.cast(stop, ctypes.POINTER(ctypes.c_int))

    def on_progress(_user, stats_ptr):
        s = stats_ptr.contents
        total = f"/{s.input_bytes}" if s.input_bytes >= 0 else ""
        print(f"llmbed: {s.resumed_rows + s.sequences} rows, {s.tokens} tokens, input byte {s.input_offset}{total}, "
              f"{s.tokens / s.seconds if s.seconds > 0 else 0:.0f} tokens/s", file=sys.stderr, flush=True)
    callback = _capi.PROGRESS_CALLBACK(on_progress)
    if show_progress:
        file_params.on_progress = callback

    feeder = None
    finished = threading.Event()
    fifo_dir = None
    if parquet_input:
        import tempfile

        fifo_dir = tempfile.mkdtemp(prefix="llmbed-fifo-")
        fifo = os.path.join(fifo_dir, "records.jsonl")
        os.mkfifo(fifo)
        file_params.input_path = c_str(fifo)
        file_params.input_identity = c_str(_parquet_identity(source) + f":column {text_column}")
        feeder = _FifoFeeder(fifo, source, text_column, stop, finished)
    else:
        file_params.input_path = c_str(str(source))
        file_params.text_field = c_str(text_column)

    stats = _capi.llmbed_file_stats()
    result = {}
    ctx = model._borrow()

    def job():
        try:
            result["status"] = model._lib.llmbed_embed_file(ctx, byref(file_params), byref(params), byref(stats))
            result["message"] = model._lib.llmbed_last_error(ctx).decode("utf-8", "replace")
        finally:
            finished.set()

    worker = threading.Thread(target=job, name="llmbed-embed-file", daemon=True)
    try:
        if feeder is not None:
            feeder.start()
        worker.start()
        # Waiting on an Event in short steps keeps Ctrl-C deliverable in this
        # thread (an interrupted Thread.join can misreport the thread as ended).
        interrupted = False
        while True:
            try:
                if finished.wait(0.1):
                    break
            except KeyboardInterrupt:
                stop[0] = 1
                interrupted = True
        worker.join()
        if feeder is not None:
            feeder.join()
    finally:
        model._pool.put(ctx)
        if fifo_dir is not None:
            shutil.rmtree(fifo_dir, ignore_errors=True)
    if feeder is not None and feeder.error is not None:
        raise feeder.error
    status = result.get("status", 34)
    if status == _capi.ERR_INTERRUPTED and interrupted:
        check(status, result["message"] or "interrupted: committed shards stay; continue with resume=True")
    check(status, result.get("message", ""))
    if parquet_output:
        ids = _ids_in_order(source, parquet_input, id_column) if id_column is not None else None
        _assemble_parquet(parts / "part.manifest.json", output, precision, dims, ids)
        shutil.rmtree(parts)
    return FileStats(stats.sequences, stats.tokens, stats.truncated, stats.skipped, stats.batches, stats.resumed_rows,
                     stats.rows_total, stats.shards, stats.seconds, bool(stats.already_complete), str(output))
