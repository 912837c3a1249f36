"""llmbed: decoder-only LLMs as text embedders, from Python.

    import llmbed
    m = llmbed.Embedder("tests/data/models/qwen3-tiny")
    rows = m.encode(["a cat", "a dog"])            # numpy float32 [2, hidden]
    print(m.similarity(rows, rows), m.info.default_pooling)

A thin ctypes binding of the C library (include/llmbed.h): defaults,
tokenisation, pooling and output precisions are the library's, exactly as
the ``llmbed`` CLI applies them. See ``Embedder``, ``embed_file`` and
``llmbed.ray.EmbedBatches``; ``python -m llmbed`` runs the CLI.
"""
from ._capi import cli_path, library_path
from .embedder import Embedder, ModelInfo
from .errors import GENERATED as _GENERATED
from .errors import ArgumentTypeError, ClosedError, Error
from .jobs import FileStats, embed_file

globals().update(_GENERATED)

__version__ = "0.1.0"

__all__ = ["Embedder", "ModelInfo", "Error", "ClosedError", "ArgumentTypeError", "embed_file", "FileStats",
           "cli_path", "library_path", *sorted(_GENERATED)]
