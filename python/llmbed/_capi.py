"""ctypes declarations of include/llmbed.h, and nothing else.

Why ctypes (not cffi or nanobind): the C library is the only compiled part
of the package, built by the same CMake as the CLI; ctypes needs no second
compiler pass, no build-time dependency and no ABI-specific extension
module, and it releases the GIL around every foreign call (ctypes.CDLL),
which is what lets ``encode`` run in parallel with other Python threads. The
price, mirroring the structs by hand, is contained: every struct with
``struct_size`` is checked by the library itself (a mismatch fails with a
message instead of reading garbage), ``tests/test_capi.py`` compares every
struct's size with the C side, and a new C field is one line here.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_void_p)
from pathlib import Path

_NATIVE = Path(__file__).resolve().parent / "_native"

ERROR_MESSAGE_CAPACITY = 512

# Enum values and status codes come from the library (llmbed_*_name,
# llmbed_status_name): see enum_table() and status_value().
WEIGHTS = {"default": 0, "f32": 1, "bf16": 2, "native": 3}  # llmbed_weights_mode (no name function in the C API)


class llmbed_error(Structure):
    _fields_ = [("status", c_int), ("message", c_char * ERROR_MESSAGE_CAPACITY)]


class llmbed_model_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("n_threads", c_int), ("vocab_only", c_int),
                ("adapters", POINTER(c_char_p)), ("n_adapters", c_int), ("family", c_char_p),
                ("rope_scaling", c_char_p), ("weights", c_int)]


class llmbed_model_info(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("architecture", c_char_p),
        ("source_format", c_char_p),
        ("weight_dtype", c_char_p),
        ("n_layers", c_int),
        ("hidden_size", c_int),
        ("n_heads", c_int),
        ("n_kv_heads", c_int),
        ("head_dim", c_int),
        ("intermediate_size", c_int),
        ("vocab_size", c_int),
        ("max_positions", c_int),
        ("rope_theta", c_float),
        ("rope_scaling", c_char_p),
        ("rms_norm_eps", c_float),
        ("tie_word_embeddings", c_int),
        ("n_parameters", c_int64),
        ("default_pooling", c_int),
        ("default_attention", c_int),
        ("default_normalize", c_int),
        ("family", c_char_p),
        ("family_reason", c_char_p),
        ("appends_eos", c_int),
        ("eos_token_id", c_int),
        ("query_format", c_char_p),
        ("has_latent_pooling", c_int),
        ("weights", c_char_p),
        ("weight_bytes", c_int64),
    ]


class llmbed_ctx_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("device", c_int), ("device_index", c_int), ("n_threads", c_int),
                ("batch_tokens", c_int64), ("memory_limit_bytes", c_int64), ("n_devices", c_int),
                ("devices", c_int * 64), ("replicas", c_int)]  # 64: LLMBED_MAX_DEVICES


class ArrowArrayStream(Structure):
    """The Arrow C stream interface (arrow.apache.org/docs/format/CStreamInterface.html); pyarrow fills it."""

    _fields_ = [("get_schema", c_void_p), ("get_next", c_void_p), ("get_last_error", c_void_p), ("release", c_void_p),
                ("private_data", c_void_p)]


class llmbed_batch(Structure):
    _fields_ = [("tokens", POINTER(c_int32)), ("offsets", POINTER(c_int64)), ("n_sequences", c_int),
                ("instruction_lens", POINTER(c_int32)), ("pool_ends", POINTER(c_int32))]


class llmbed_embed_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("pooling", c_int), ("attention", c_int), ("normalize", c_int),
                ("dims", c_int), ("layer", c_int), ("chunk_tokens", c_int), ("think_ratio", c_float),
                ("attention_temperature", c_float), ("continue_document", c_int), ("mask_prefix_tokens", c_int)]


class llmbed_tokenize_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("add_special", c_int), ("parse_special", c_int)]


class llmbed_text_stats(Structure):
    _fields_ = [("tokens", c_int64), ("truncated", c_int64), ("batches", c_int64), ("rows", c_int64),
                ("document_tokens", c_int64), ("inputs", c_int64), ("seconds", c_double)]


class llmbed_row_batch(Structure):
    _fields_ = [("n_rows", c_int), ("inputs", POINTER(c_int64)), ("spans", POINTER(c_int32)), ("rows", c_void_p),
                ("scales", POINTER(c_float)), ("dims", c_int)]


ROW_CALLBACK = CFUNCTYPE(c_int, c_void_p, POINTER(llmbed_row_batch))
TEXT_PROGRESS_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(llmbed_text_stats))


class llmbed_text_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("prompt", c_char_p), ("exclude_prompt", c_int), ("max_tokens", c_int64),
                ("truncate", c_int), ("precision", c_int), ("template_text", c_char_p), ("pool_span", c_int),
                ("method", c_char_p), ("document", c_void_p), ("document_len", c_size_t), ("late_chunking", c_int),
                ("spans", POINTER(POINTER(c_int32))), ("n_spans", POINTER(c_int)), ("on_rows", ROW_CALLBACK),
                ("user", c_void_p), ("on_progress", TEXT_PROGRESS_CALLBACK)]


class llmbed_file_stats(Structure):
    _fields_ = [(name, c_int64) for name in ("sequences", "tokens", "truncated", "skipped", "batches", "resumed_rows",
                                             "rows_total", "shards", "input_offset", "input_bytes")] + [
        ("seconds", c_double), ("already_complete", c_int), ("invalid_utf8", c_int64), ("document_tokens", c_int64)]


PROGRESS_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(llmbed_file_stats))
SKIP_CALLBACK = CFUNCTYPE(None, c_void_p, c_char_p)


class llmbed_file_params(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("input_path", c_char_p),
        ("input_identity", c_char_p),
        ("text_field", c_char_p),
        ("id_field", c_char_p),
        ("output_path", c_char_p),
        ("format", c_char_p),
        ("text", llmbed_text_params),
        ("skip_invalid", c_int),
        ("shard_rows", c_int64),
        ("resume", c_int),
        ("tokenize_threads", c_int),
        ("window_lines", c_int),
        ("stop", POINTER(c_int)),
        ("on_progress", PROGRESS_CALLBACK),
        ("user", c_void_p),
        ("strict_utf8", c_int),
        ("on_skip", SKIP_CALLBACK),
        ("arrow_input", c_void_p),
    ]


# name: (restype, argtypes)
_FUNCTIONS = {
    "llmbed_version_number": (c_uint, []),
    "llmbed_status_str": (c_char_p, [c_int]),
    "llmbed_status_name": (c_char_p, [c_int]),
    "llmbed_blas_coretype_hint": (c_char_p, []),
    "llmbed_model_params_default": (None, [POINTER(llmbed_model_params)]),
    "llmbed_model_load": (c_int, [c_char_p, POINTER(llmbed_model_params), POINTER(c_void_p), POINTER(llmbed_error)]),
    "llmbed_model_free": (None, [c_void_p]),
    "llmbed_model_get_info": (c_int, [c_void_p, POINTER(llmbed_model_info)]),
    "llmbed_ctx_params_default": (None, [POINTER(llmbed_ctx_params)]),
    "llmbed_ctx_create": (c_int, [c_void_p, POINTER(llmbed_ctx_params), POINTER(c_void_p), POINTER(llmbed_error)]),
    "llmbed_ctx_free": (None, [c_void_p]),
    "llmbed_ctx_device": (c_int, [c_void_p, POINTER(c_int)]),
    "llmbed_ctx_device_note": (c_char_p, [c_void_p]),
    "llmbed_last_error": (c_char_p, [c_void_p]),
    "llmbed_embed_params_default": (None, [POINTER(llmbed_embed_params)]),
    "llmbed_embed_params_resolve": (c_int, [c_void_p, POINTER(llmbed_embed_params), POINTER(llmbed_embed_params),
                                            POINTER(c_int), POINTER(llmbed_error)]),
    "llmbed_embed": (c_int, [c_void_p, POINTER(llmbed_batch), POINTER(llmbed_embed_params), c_void_p, c_size_t]),
    "llmbed_tokenize_params_default": (None, [POINTER(llmbed_tokenize_params)]),
    "llmbed_tokenize": (c_int, [c_void_p, c_char_p, c_size_t, POINTER(llmbed_tokenize_params), c_void_p, c_size_t,
                                POINTER(c_size_t), POINTER(c_size_t), POINTER(llmbed_error)]),
    "llmbed_detokenize": (c_int, [c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_size_t),
                                  POINTER(llmbed_error)]),
    "llmbed_precision_row_bytes": (c_size_t, [c_int, c_int]),
    "llmbed_quantize_rows": (c_int, [c_int, c_void_p, c_size_t, c_int, c_void_p, c_size_t, c_void_p,
                                     POINTER(llmbed_error)]),
    "llmbed_suggested_batch_tokens": (c_int64, [c_void_p]),
    "llmbed_model_prompt": (c_int, [c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_size_t), POINTER(llmbed_error)]),
    "llmbed_model_prompt_names": (c_int, [c_void_p, c_void_p, c_size_t, POINTER(c_size_t), POINTER(llmbed_error)]),
    "llmbed_text_params_default": (None, [POINTER(llmbed_text_params)]),
    "llmbed_prompt_length": (c_int, [c_void_p, c_char_p, POINTER(c_int32), POINTER(llmbed_error)]),
    "llmbed_embed_texts": (c_int, [c_void_p, c_void_p, c_void_p, c_int, POINTER(llmbed_text_params),
                                   POINTER(llmbed_embed_params), c_void_p, c_size_t, c_void_p,
                                   POINTER(llmbed_text_stats)]),
    "llmbed_embed_ids": (c_int, [c_void_p, c_void_p, c_void_p, c_int, POINTER(llmbed_text_params),
                                 POINTER(llmbed_embed_params), c_void_p, c_size_t, c_void_p,
                                 POINTER(llmbed_text_stats)]),
    "llmbed_pooling_name": (c_char_p, [c_int]),
    "llmbed_attention_name": (c_char_p, [c_int]),
    "llmbed_precision_name": (c_char_p, [c_int]),
    "llmbed_pool_span_name": (c_char_p, [c_int]),
    "llmbed_device_name": (c_char_p, [c_int]),
    "llmbed_ctx_batch_tokens": (c_int64, [c_void_p]),
    "llmbed_device_parse": (c_int, [c_char_p, POINTER(llmbed_ctx_params)]),
    "llmbed_ctx_workers": (c_int, [c_void_p]),
    "llmbed_file_params_default": (None, [POINTER(llmbed_file_params)]),
    "llmbed_embed_file": (c_int, [c_void_p, POINTER(llmbed_file_params), POINTER(llmbed_embed_params),
                                  POINTER(llmbed_file_stats)]),
}


def library_path() -> Path:
    """The shared library: $LLMBED_LIBRARY, else the one installed in the package."""
    env = os.environ.get("LLMBED_LIBRARY")
    return Path(env) if env else _NATIVE / "libllmbed.so"


def cli_path() -> Path:
    """The `llmbed` executable: $LLMBED_CLI, else the one installed in the package."""
    env = os.environ.get("LLMBED_CLI")
    return Path(env) if env else _NATIVE / "llmbed"


_HINT_PROBE = ("import ctypes,sys; f=ctypes.CDLL(sys.argv[1]).llmbed_blas_coretype_hint; "
               "f.restype=ctypes.c_char_p; print((f() or b'').decode())")


def _set_openblas_coretype(path: Path) -> None:
    # Debian's OpenBLAS falls back to generic kernels on new Intel CPUs and
    # reads OPENBLAS_CORETYPE only when it is loaded; the CLI re-executes
    # itself (host/cpu/blas_core.h), a library user must set it before the
    # load: ask the library in a helper process which value it wants.
    if "OPENBLAS_CORETYPE" in os.environ or os.environ.get("LLMBED_NO_CORETYPE_PROBE"):
        return
    try:
        hint = subprocess.run([sys.executable, "-c", _HINT_PROBE, str(path)], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    if hint:
        os.environ["OPENBLAS_CORETYPE"] = hint


_lib = None


def lib():
    """The loaded library with every function of _FUNCTIONS typed (loaded once)."""
    global _lib
    if _lib is None:
        path = library_path()
        if not path.exists():
            raise ImportError(f"llmbed: the C library {path} is missing (reinstall with pip install ./python, "
                              "or point LLMBED_LIBRARY at a libllmbed.so)")
        _set_openblas_coretype(path)
        loaded = ctypes.CDLL(str(path))
        for name, (restype, argtypes) in _FUNCTIONS.items():
            fn = getattr(loaded, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _lib = loaded
    return _lib


def filled(struct_type, default_fn_name: str):
    """A struct filled by its llmbed_*_default() function."""
    value = struct_type()
    getattr(lib(), default_fn_name)(ctypes.byref(value))
    return value


_tables = {}


def enum_table(kind: str):
    """{name: value} of a C enum as the CLI spells the names (llmbed_<kind>_name): pooling, attention,
    precision, pool_span, device."""
    table = _tables.get(kind)
    if table is None:
        name_of = getattr(lib(), f"llmbed_{kind}_name")
        table = {}
        for value in range(-1, 64):
            raw = name_of(value)
            if raw is not None:
                table[raw.decode()] = value
        _tables[kind] = table
    return table


def enum_name(kind: str, value: int) -> str:
    """The CLI's name of an enum value ("?" when not in the enum)."""
    return next((name for name, v in enum_table(kind).items() if v == value), "?")


def status_value(name: str) -> int:
    """The value of a status by its C name ("LLMBED_ERR_BUFFER_TOO_SMALL")."""
    table = _tables.get("status")
    if table is None:
        table = {}
        for value in range(0, 1000):
            raw = lib().llmbed_status_name(value)
            if raw is None:
                break
            table[raw.decode()] = value
        _tables["status"] = table
    return table[name]
