"""Ray Data: ``llmbed.ray.EmbedBatches`` for ``Dataset.map_batches``.

    import ray, llmbed.ray
    ds = ray.data.read_parquet("corpus/")
    ds = ds.map_batches(llmbed.ray.EmbedBatches,
                        fn_constructor_kwargs={"model": "/models/Qwen3-Embedding-0.6B", "device": "cuda"},
                        batch_size=4096, concurrency=8, num_gpus=1)
    ds.write_parquet("embeddings/")

Each actor loads the model once (``__init__``) and embeds every batch it is
given with ``Embedder.encode``; the batch comes back with one more column
(default ``embedding``) holding a fixed-size list of float32 per row (of the
``precision``'s type otherwise), an Arrow-native type that Parquet, pandas and
Ray all read. The rows are those of a single-process ``encode`` of the same
texts. Distribution, retries and ordering are Ray's: this class is only the
per-actor embedding step.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .embedder import Embedder

_ENCODE_KEYS = {"prompt", "prompt_name", "pooling", "attention", "normalize_embeddings", "truncate_dim", "precision",
                "layer", "max_tokens", "truncate", "exclude_prompt"}


class EmbedBatches:
    """A ``map_batches`` callable class: adds an embedding column to each batch.

    Constructor keywords (``fn_constructor_kwargs``):
      model: model path (HF folder or .gguf), as ``Embedder``;
      text_column: column of texts (default ``"text"``), or
      tokens_column: column of token-id lists (pre-tokenised; replaces text_column);
      embedding_column: name of the added column (default ``"embedding"``);
      device, threads, batch_tokens: as ``Embedder`` (device "cuda" with
        ``num_gpus=1``: Ray sets CUDA_VISIBLE_DEVICES, so each actor's
        "cuda" is its own GPU);
      any ``Embedder.encode`` keyword (prompt, prompt_name, pooling,
        attention, normalize_embeddings, truncate_dim, precision, layer,
        max_tokens, truncate, exclude_prompt).
    Batches may come as a ``pyarrow.Table`` (``batch_format="pyarrow"``), a
    dict of numpy arrays (Ray's default) or a pandas DataFrame; the result is
    a ``pyarrow.Table``.
    """

    def __init__(self, model: str, text_column: str = "text", tokens_column: Optional[str] = None,
                 embedding_column: str = "embedding", device: str = "auto", threads: Optional[int] = None,
                 batch_tokens: Optional[int] = None, **encode_kwargs: Any):
        unknown = set(encode_kwargs) - _ENCODE_KEYS
        if unknown:
            raise TypeError(f"EmbedBatches: unknown keyword(s) {', '.join(sorted(unknown))}")
        self.embedder = Embedder(model, device=device, threads=threads, batch_tokens=batch_tokens)
        self.text_column, self.tokens_column = text_column, tokens_column
        self.embedding_column = embedding_column
        self.encode_kwargs: Dict[str, Any] = encode_kwargs

    def __call__(self, batch):
        import pyarrow as pa

        table = _as_table(batch)
        column = self.tokens_column or self.text_column
        if column not in table.column_names:
            raise KeyError(f"EmbedBatches: the batch has no column '{column}' (it has {', '.join(table.column_names)})")
        values = table.column(column).to_pylist()
        rows = self.embedder.encode(values, **self.encode_kwargs)
        width = rows.shape[1] if rows.ndim == 2 else 0
        flat = pa.array(rows.reshape(-1))  # numpy -> Arrow without a Python-level copy
        embedding = pa.FixedSizeListArray.from_arrays(flat, width)
        if self.embedding_column in table.column_names:
            table = table.drop_columns([self.embedding_column])
        return table.append_column(self.embedding_column, embedding)

    def __del__(self):
        embedder = getattr(self, "embedder", None)
        if embedder is not None:
            embedder.close()


def _as_table(batch):
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, dict):
        return pa.table({k: (v.tolist() if isinstance(v, np.ndarray) and v.dtype == object else v)
                         for k, v in batch.items()})
    try:
        import pandas as pd

        if isinstance(batch, pd.DataFrame):
            return pa.Table.from_pandas(batch, preserve_index=False)
    except ImportError:
        pass
    raise TypeError(f"EmbedBatches: unsupported batch type {type(batch).__name__}")
