"""``llmbed.embed_file``: batch jobs over files, on the C job machinery.

The job itself -- streaming read-ahead windows, tokenisation on worker
threads, token-budget batches, atomic output, numbered shards with a
manifest of sizes and CRC-32s, resume after a kill -- is the ``llmbed
embed`` job (host/pipeline/job.h) behind ``llmbed_embed_file``. This module
adds only what needs pyarrow:

* Parquet input (a file or a folder of them): its record batches go to the
  library as an Arrow C stream (``llmbed_file_params.arrow_input``); the
  library reads the text and id columns itself. A resumed job re-reads the
  stream and checks the rows before the manifest's position by their CRC-32.
* Parquet output: the C job writes shards and their manifest into
  ``<output>.parts/`` (``.npy``, or ``.jsonl`` when rows carry ids); when it
  completes, the shards are copied one at a time into ``<output>`` (written
  to a temporary name, then renamed) with an ``embedding`` column
  (fixed-size list, Arrow-native), the ``id`` column when ``id_column`` is
  given, and ``scale`` for int8; then the parts go.

Memory stays bounded: the C job's three windows, one Arrow record batch,
one shard.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import sys
import threading
from ctypes import byref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from . import _capi
from .embedder import Embedder, _Call, _optional_int
from .errors import check, error_named, wrong_type

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


def _arrow_stream(path: Path, columns, call: _Call) -> int:
    """The columns' record batches as an Arrow C stream the library reads (and releases); its address."""
    import pyarrow as pa

    schema = _parquet_dataset(path).schema
    # a column the data lacks: the library names it (the stream carries what there is)
    columns = [c for c in columns if c in schema.names] or schema.names
    projected = pa.schema([schema.field(c) for c in columns])
    reader = pa.RecordBatchReader.from_batches(projected, _parquet_columns(path, columns))
    stream = call.hold(_capi.ArrowArrayStream())
    reader._export_to_c(ctypes.addressof(stream))
    return ctypes.addressof(stream)


def _assemble_parquet(parts_manifest: Path, output: Path, precision: str, dims: int, with_ids: bool):
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = json.loads(parts_manifest.read_text())
    folder = parts_manifest.parent
    value_type = {"float32": pa.float32(), "float16": pa.float16(), "int8": pa.int8(), "ubinary": pa.uint8()}[precision]
    numpy_type = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "ubinary": np.uint8}[precision]
    tmp = output.with_name(output.name + ".tmp")
    writer = None
    try:
        for shard in manifest["shards"]:
            columns, names = [], []
            if with_ids:  # the C job's JSONL rows: {"id", "embedding"[, "scale"]}
                with open(folder / shard["file"], encoding="utf-8") as f:
                    records = [json.loads(line) for line in f]
                rows = np.array([r["embedding"] for r in records], dtype=numpy_type).reshape(len(records), -1)
                columns.append(pa.array([r["id"] for r in records]))
                names.append("id")
                scales = [r["scale"] for r in records] if precision == "int8" else None
            else:
                rows = np.load(folder / shard["file"], mmap_mode="r")
                scales = np.load(folder / shard["sidecar"]) if shard.get("sidecar") else None
            width = rows.shape[1]
            flat = pa.array(np.ascontiguousarray(rows).reshape(-1), type=value_type)
            columns.append(pa.FixedSizeListArray.from_arrays(flat, width))
            names.append("embedding")
            if scales is not None:
                columns.append(pa.array(scales, type=pa.float32()))
                names.append("scale")
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
    chunk_tokens: Optional[int] = None,
    think_ratio: Optional[float] = None,
    attn_temperature: Optional[float] = None,
    mask_prefix_tokens: Optional[int] = None,
    template: Optional[str] = None,
    pool_span: Optional[str] = None,
    method: Optional[str] = None,
    document: Optional[str] = None,
    late_chunking: Union[None, int, str] = None,
    strict_utf8: bool = False,
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
        (then ``embedder_kwargs`` such as device, threads, batch_tokens,
        rope_scaling, memory_limit go to the ``Embedder`` created for this call).
    resume: continue a killed or interrupted sharded job from its manifest
        (the job's options must be the same; ``ResumeMismatchError`` names
        the first that differs).
    late_chunking: an int N (``--late-chunking tokens:N``) or ``"spans"``
        (each JSONL line's ``"spans"``); one row per span, and the row index
        ``<output stem>.rows.jsonl``.
    The other keyword arguments are those of ``Embedder.encode`` and of
    ``llmbed embed`` under the same names; ``skip_invalid`` counts and skips
    bad lines instead of failing.

    Ctrl-C stops at the next batch: committed shards stay, and ``resume=True``
    continues (``llmbed.ModelInterruptedError`` is raised). Returns ``FileStats``.
    """
    owned = None
    if not isinstance(model, Embedder):
        owned = model = Embedder(model, **embedder_kwargs)
    elif embedder_kwargs:
        raise wrong_type(f"embed_file: {', '.join(embedder_kwargs)} apply only when model is a path")
    options = dict(prompt=prompt, prompt_name=prompt_name, precision=precision, max_tokens=max_tokens,
                   truncate=truncate, exclude_prompt=exclude_prompt, template=template, pool_span=pool_span,
                   method=method, document=document)
    embed_options = dict(pooling=pooling, attention=attention, normalize_embeddings=normalize_embeddings,
                         truncate_dim=truncate_dim, layer=layer, chunk_tokens=chunk_tokens, think_ratio=think_ratio,
                         attn_temperature=attn_temperature, mask_prefix_tokens=mask_prefix_tokens)
    try:
        return _run(model, Path(input), Path(output), text_column, id_column, options, embed_options, skip_invalid,
                    shard_rows, resume, tokenize_threads, show_progress, late_chunking, strict_utf8)
    finally:
        if owned is not None:
            owned.close()


def _run(model: Embedder, source: Path, output: Path, text_column, id_column, options, embed_options, skip_invalid,
         shard_rows, resume, tokenize_threads, show_progress, late_chunking, strict_utf8) -> FileStats:
    for name, value in (("text_column", text_column), ("id_column", id_column)):
        if value is not None and not isinstance(value, str):
            raise wrong_type(f"{name}: expected a str, got {type(value).__name__}")
    if not source.exists():
        raise error_named("LLMBED_ERR_FILE_NOT_FOUND", f"{source}: no such input file or folder")
    call = _Call()
    params = model._embed_params(**embed_options)
    file_params = _capi.filled(_capi.llmbed_file_params, "llmbed_file_params_default")
    file_params.text = model._text_params(call, **options)
    _, dims = model._resolve(params)
    parquet_input = _is_parquet(source)
    parquet_output = output.suffix.lower() in PARQUET_SUFFIXES
    shard_rows = _optional_int("shard_rows", shard_rows, 0)
    if parquet_output:
        shard_rows = shard_rows or DEFAULT_PARQUET_SHARD_ROWS
        parts = output.with_name(output.name + ".parts")
        if resume and output.exists() and not parts.exists():
            return FileStats(0, 0, 0, 0, 0, 0, -1, 0, 0.0, True, str(output))
        parts.mkdir(parents=True, exist_ok=True)
        job_output = parts / ("part.jsonl" if id_column is not None else "part.npy")
    else:
        job_output = output
    if late_chunking is not None:
        if isinstance(late_chunking, (int, np.integer)) and not isinstance(late_chunking, bool) and late_chunking > 0:
            file_params.text.late_chunking = int(late_chunking)
        elif late_chunking == "spans":
            file_params.text.late_chunking = -1
        else:
            raise wrong_type("late_chunking: expected an int N (spans of N tokens) or \"spans\"")

    def c_str(value: Optional[str]):
        return call.hold(value.encode()) if value is not None else None

    file_params.output_path = c_str(str(job_output))
    file_params.skip_invalid = int(bool(skip_invalid))
    file_params.strict_utf8 = int(bool(strict_utf8))
    file_params.shard_rows = shard_rows or 0
    file_params.resume = int(bool(resume))
    file_params.tokenize_threads = _optional_int("tokenize_threads", tokenize_threads, 0) or 0
    file_params.text_field = c_str(text_column)
    file_params.id_field = c_str(id_column)
    file_params.input_path = c_str(str(source))
    if parquet_input:
        columns = [text_column] + ([id_column] if id_column is not None else [])
        file_params.input_identity = c_str(_parquet_identity(source) + f":column {text_column}")
        file_params.arrow_input = _arrow_stream(source, columns, call)
    stop = (ctypes.c_int * 1)(0)
    file_params.stop = ctypes.cast(stop, ctypes.POINTER(ctypes.c_int))

    def on_progress(_user, stats_ptr):
        s = stats_ptr.contents
        total = f"/{s.input_bytes}" if s.input_bytes >= 0 else ""
        print(f"llmbed: {s.resumed_rows + s.sequences} rows, {s.tokens} tokens, input byte {s.input_offset}{total}, "
              f"{s.tokens / s.seconds if s.seconds > 0 else 0:.0f} tokens/s", file=sys.stderr, flush=True)
    if show_progress:
        file_params.on_progress = call.hold(_capi.PROGRESS_CALLBACK(on_progress))

    stats = _capi.llmbed_file_stats()
    result = {}
    finished = threading.Event()
    ctx = model._borrow()

    def job():
        try:
            result["status"] = model._lib.llmbed_embed_file(ctx, byref(file_params), byref(params), byref(stats))
            result["message"] = model._lib.llmbed_last_error(ctx).decode("utf-8", "replace")
        finally:
            finished.set()

    worker = threading.Thread(target=job, name="llmbed-embed-file", daemon=True)
    interrupted = False
    try:
        worker.start()
        # Waiting on an Event in short steps keeps Ctrl-C deliverable in this
        # thread (an interrupted Thread.join can misreport the thread as ended).
        while True:
            try:
                if finished.wait(0.1):
                    break
            except KeyboardInterrupt:
                stop[0] = 1
                interrupted = True
        worker.join()
    finally:
        model._pool.put(ctx)
    status = result.get("status", _capi.status_value("LLMBED_ERR_INTERNAL"))
    if status == _capi.status_value("LLMBED_ERR_INTERRUPTED") and interrupted:
        check(status, result["message"] or "interrupted: committed shards stay; continue with resume=True")
    check(status, result.get("message", ""))
    if parquet_output:
        _assemble_parquet(parts / "part.manifest.json", output, options["precision"], dims, id_column is not None)
        shutil.rmtree(parts)
    return FileStats(stats.sequences, stats.tokens, stats.truncated, stats.skipped, stats.batches, stats.resumed_rows,
                     stats.rows_total, stats.shards, stats.seconds, bool(stats.already_complete), str(output))
