"""``llmbed.Embedder``: a sentence-transformers-like front end over the C library.

Everything that decides what a row is -- the family's pooling, attention
and normalisation, prompts, tokenisation, truncation, batching and the
output precisions -- happens in C (``include/llmbed.h``); this module turns
Python arguments into the C structs, allocates the numpy result and hands its
memory to the library, which writes the rows there (no copy afterwards).

Threads: the C API allows one thread at a time per context and any number
of contexts over one model. An Embedder owns ``contexts`` contexts (default
1) in a pool: ``encode`` borrows one for the duration of the call, so any
number of Python threads may share one Embedder; with one context their
``encode`` calls run one after the other (each already uses ``threads`` CPU
cores), with ``contexts=k`` up to k run at once. ``tokenize``, ``info`` and
``prompts`` need no context and never wait. The GIL is released inside every
C call, so other Python threads keep running during ``encode``.
"""
from __future__ import annotations

import ctypes
import queue
import sys
import threading
from ctypes import byref, c_char_p, c_int, c_int32, c_size_t, c_void_p
from dataclasses import dataclass, field
from os import PathLike, fspath
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _capi
from .errors import ClosedError, check, invalid_argument, wrong_type

# Texts per C call: the `llmbed embed` job's read-ahead window (4096 lines,
# host/scheduler/window.c), so encode() forms the same batches as the CLI and
# its rows equal the CLI's bit for bit (tests/test_cli_parity.py checks it).
WINDOW = 4096

_NUMPY_DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "ubinary": np.uint8}

Sentences = Union[str, Sequence[str], Sequence[Sequence[int]], np.ndarray]


@dataclass(frozen=True)
class ModelInfo:
    """What ``llmbed info`` prints: the architecture and the defaults the C library applies."""

    path: str
    architecture: str
    source_format: str
    weight_dtype: str
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    rope_theta: float
    rope_scaling: str
    rms_norm_eps: float
    tie_word_embeddings: bool
    n_parameters: int
    default_pooling: str
    default_attention: str
    default_normalize: bool
    family: str = "generic"
    family_reason: str = ""
    appends_eos: bool = False
    query_format: str = ""
    has_latent_pooling: bool = False
    weights: str = "native"
    weight_bytes: int = 0
    prompts: Dict[str, str] = field(default_factory=dict)
    device: str = "cpu"  # where the contexts run: "cpu" or "cuda:N" (device="auto" resolved)
    threads: int = 0
    batch_tokens: int = 0
    contexts: int = 1


def _text(raw: Optional[bytes]) -> str:
    return raw.decode() if raw else ""


def _parse_device(device: str):
    if not isinstance(device, str):
        raise wrong_type(f"device: expected a str ('auto', 'cpu', 'cuda' or 'cuda:N'), got {type(device).__name__}")
    if device == "auto":
        return _capi.DEVICE_AUTO, 0
    if device == "cpu":
        return _capi.DEVICE_CPU, 0
    if device == "cuda":
        return _capi.DEVICE_CUDA, 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return _capi.DEVICE_CUDA, int(device[5:])
    raise invalid_argument(f"device '{device}': expected auto, cpu, cuda or cuda:N")


def _optional_int(name: str, value, minimum: Optional[int] = None) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise wrong_type(f"{name}: expected an int or None, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise invalid_argument(f"{name}: {value} is below {minimum}")
    return int(value)


def _choice(name: str, value, table: Dict[str, int]) -> int:
    if value is None:
        return 0
    if not isinstance(value, str):
        raise wrong_type(f"{name}: expected a str, got {type(value).__name__}")
    key = value.replace("_", "-")
    if key not in table or key == "default":
        names = ", ".join(k for k in table if k != "default")
        raise invalid_argument(f"{name} '{value}': expected one of {names}")
    return table[key]


def _to_bytes(text: str) -> bytes:
    # Lone surrogates become invalid UTF-8, which the C tokenizer replaces by
    # U+FFFD as Hugging Face tokenizers do.
    return text.encode("utf-8", "surrogatepass")


class _Progress:
    """tqdm when installed, else one stderr line per window."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.enabled = enabled and total > 0
        self.total, self.done = total, 0
        if self.enabled:
            try:
                from tqdm.auto import tqdm  # optional

                self.bar = tqdm(total=total, desc="llmbed encode", unit="text")
            except ImportError:
                pass

    def update(self, n: int) -> None:
        if not self.enabled:
            return
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            print(f"llmbed: encoded {self.done}/{self.total} texts", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Embedder:
    """A model loaded by the C library, with contexts to embed on.

    ``Embedder(path, device="auto", threads=None, batch_tokens=None, contexts=1, weights="default")``

    * ``path``: a Hugging Face folder (config.json + safetensors + tokenizer.json,
      optional sentence-transformers files) or a ``.gguf`` file.
    * ``device``: ``"auto"`` (the GPU when one is usable, else the CPU with
      one note on stderr saying why), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``;
      ``info.device`` says where it runs.
    * ``threads``: CPU threads per context (None: all cores).
    * ``batch_tokens``: token budget of one forward pass (None: what
      ``llmbed embed`` uses, ``llmbed_suggested_batch_tokens``).
    * ``contexts``: contexts in the pool, i.e. how many ``encode`` calls from
      different threads may run at once (module docstring).
    * ``weights``: how the CPU holds the weight matrices: ``"native"`` (as the
      file stores them, rows bit-identical to f32), ``"bf16"``, ``"f32"``;
      ``"default"`` is native (f32 with LoRA adapters).

    Use as a context manager or call ``close()``; afterwards every method
    raises ``llmbed.ClosedError``.
    """

    def __init__(self, path: Union[str, PathLike], device: str = "auto", threads: Optional[int] = None,
                 batch_tokens: Optional[int] = None, contexts: int = 1, weights: str = "default"):
        if not isinstance(path, (str, PathLike)):
            raise wrong_type(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        self._lib = _capi.lib()
        self._model = None
        self._contexts: List[int] = []
        self._pool: "queue.Queue[int]" = queue.Queue()
        self._state = threading.Lock()
        device_kind, device_index = _parse_device(device)
        threads = _optional_int("threads", threads, 0) or 0
        batch_tokens = _optional_int("batch_tokens", batch_tokens, 1)
        contexts = _optional_int("contexts", contexts, 1)
        self.path = fspath(path)

        model_params = _capi.filled(_capi.llmbed_model_params, "llmbed_model_params_default")
        model_params.n_threads = threads
        if weights not in _capi.WEIGHTS:
            raise invalid_argument(f"weights: expected one of native, bf16, f32, default; got {weights!r}")
        model_params.weights = _capi.WEIGHTS[weights]
        error = _capi.llmbed_error()
        model = c_void_p()
        st = self._lib.llmbed_model_load(self.path.encode(), byref(model_params), byref(model), byref(error))
        check(st, error)
        self._model = model
        try:
            raw = _capi.llmbed_model_info(struct_size=ctypes.sizeof(_capi.llmbed_model_info))
            check(self._lib.llmbed_model_get_info(model, byref(raw)), b"cannot read the model info")
            if batch_tokens is None:
                batch_tokens = int(self._lib.llmbed_suggested_batch_tokens(model))
            ctx_params = _capi.filled(_capi.llmbed_ctx_params, "llmbed_ctx_params_default")
            ctx_params.device, ctx_params.device_index = device_kind, device_index
            ctx_params.n_threads, ctx_params.batch_tokens = threads, batch_tokens
            for _ in range(contexts):
                ctx = c_void_p()
                check(self._lib.llmbed_ctx_create(model, byref(ctx_params), byref(ctx), byref(error)), error)
                self._contexts.append(ctx)
                self._pool.put(ctx)
            device = self._resolved_device(self._contexts[0])
            self._prompts = self._read_prompts()
            self.info = ModelInfo(
                path=self.path, architecture=raw.architecture.decode(), source_format=raw.source_format.decode(),
                weight_dtype=raw.weight_dtype.decode(), n_layers=raw.n_layers, hidden_size=raw.hidden_size,
                n_heads=raw.n_heads, n_kv_heads=raw.n_kv_heads, head_dim=raw.head_dim,
                intermediate_size=raw.intermediate_size, vocab_size=raw.vocab_size,
                max_positions=raw.max_positions, rope_theta=raw.rope_theta, rope_scaling=raw.rope_scaling.decode(),
                rms_norm_eps=raw.rms_norm_eps, tie_word_embeddings=bool(raw.tie_word_embeddings),
                n_parameters=raw.n_parameters, default_pooling=_capi.POOLING_NAMES.get(raw.default_pooling, "?"),
                default_attention=_capi.ATTENTION_NAMES.get(raw.default_attention, "?"),
                default_normalize=bool(raw.default_normalize), family=_text(raw.family),
                family_reason=_text(raw.family_reason), appends_eos=bool(raw.appends_eos),
                query_format=_text(raw.query_format), has_latent_pooling=bool(raw.has_latent_pooling),
                weights=_text(raw.weights), weight_bytes=raw.weight_bytes,
                prompts=dict(self._prompts), device=device,
                threads=threads, batch_tokens=batch_tokens, contexts=contexts)
        except BaseException:
            self.close()
            raise

    def _resolved_device(self, ctx) -> str:
        """Where `ctx` runs ("cpu" or "cuda:N"); prints the library's note when device="auto" fell back to the CPU."""
        note = self._lib.llmbed_ctx_device_note(ctx)
        if note:
            print(f"llmbed: note: {note.decode()}", file=sys.stderr)
        index = c_int(0)
        kind = self._lib.llmbed_ctx_device(ctx, byref(index))
        return f"cuda:{index.value}" if kind == _capi.DEVICE_CUDA else "cpu"

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Frees the contexts and the model, after any encode in flight returns. Idempotent."""
        with self._state:
            if self._model is None:
                return
            for _ in self._contexts:
                self._lib.llmbed_ctx_free(self._pool.get())
            self._contexts.clear()
            self._lib.llmbed_model_free(self._model)
            self._model = None

    def __enter__(self) -> "Embedder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._model is None

    def _need_model(self):
        model = self._model
        if model is None:
            raise ClosedError(f"the Embedder for {self.path} is closed")
        return model

    def _borrow(self):
        self._need_model()
        ctx = self._pool.get()
        if self._model is None:  # closed while waiting
            self._pool.put(ctx)
            raise ClosedError(f"the Embedder for {self.path} is closed")
        return ctx

    # --------------------------------------------------------------- prompts
    def _read_buffer(self, fn, *args) -> str:
        size = c_size_t()
        error = _capi.llmbed_error()
        capacity = 256
        for _ in range(2):
            buffer = ctypes.create_string_buffer(capacity)
            st = fn(*args, buffer, capacity, byref(size), byref(error))
            if st != _capi.ERR_BUFFER_TOO_SMALL:
                check(st, error)
                return buffer.raw[: size.value].decode("utf-8", "replace")
            capacity = size.value + 1
        check(st, error)
        return ""

    def _read_prompts(self) -> Dict[str, str]:
        names = self._read_buffer(self._lib.llmbed_model_prompt_names, self._model)
        return {name: self.prompt(name) for name in names.split("\n") if name}

    @property
    def prompts(self) -> Dict[str, str]:
        """Named prompts of the model folder (config_sentence_transformers.json), as sentence-transformers."""
        self._need_model()
        return dict(self._prompts)

    def prompt(self, name: str) -> str:
        """The prompt ``name`` of the model (llmbed.InvalidArgumentError naming the existing ones when absent)."""
        if not isinstance(name, str):
            raise wrong_type(f"prompt_name: expected a str, got {type(name).__name__}")
        return self._read_buffer(self._lib.llmbed_model_prompt, self._need_model(), name.encode())

    # -------------------------------------------------------------- tokenize
    def tokenize(self, texts: Union[str, Sequence[str]], add_special_tokens: bool = True) -> Union[List[int], List[List[int]]]:
        """Token ids of a text (a list of ints) or of each text (a list of lists), by the C tokenizer.

        ``add_special_tokens``: BOS/EOS as the model's tokenizer adds them (as
        ``llmbed tokenize``). No prompt and no truncation are applied here.
        """
        model = self._need_model()
        single = isinstance(texts, str)
        if not single and (not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts)):
            raise wrong_type("texts: expected a str or a sequence of str")
        params = _capi.filled(_capi.llmbed_tokenize_params, "llmbed_tokenize_params_default")
        params.add_special = 1 if add_special_tokens else 0
        out = []
        error = _capi.llmbed_error()
        n_ids = c_size_t()
        for text in [texts] if single else texts:
            data = _to_bytes(text)
            capacity = len(data) + 16
            for _ in range(2):
                ids = np.empty(capacity, dtype=np.int32)
                st = self._lib.llmbed_tokenize(model, data, len(data), byref(params), ids.ctypes.data, capacity,
                                               byref(n_ids), None, byref(error))
                if st != _capi.ERR_BUFFER_TOO_SMALL:
                    break
                capacity = n_ids.value
            check(st, error)
            out.append(ids[: n_ids.value].tolist())
        return out[0] if single else out

    def detokenize(self, ids: Sequence[int]) -> str:
        """UTF-8 text of token ids (for debugging)."""
        model = self._need_model()
        array = np.ascontiguousarray(ids, dtype=np.int32)
        return self._read_buffer(lambda *rest: self._lib.llmbed_detokenize(model, array.ctypes.data, array.size, *rest))

    # ----------------------------------------------------------------- encode
    def _embed_params(self, pooling, attention, normalize_embeddings, truncate_dim, layer):
        """llmbed_embed_params from encode's keyword arguments (None = the C default).

        One line per C field: a new C parameter (chunk_tokens, think_ratio,
        template, ...) becomes a keyword of encode and one line here.
        """
        params = _capi.filled(_capi.llmbed_embed_params, "llmbed_embed_params_default")
        params.pooling = _choice("pooling", pooling, _capi.POOLING)
        params.attention = _choice("attention", attention, _capi.ATTENTION)
        if normalize_embeddings is not None:
            if not isinstance(normalize_embeddings, (bool, np.bool_)):
                raise wrong_type(f"normalize_embeddings: expected a bool or None, got {type(normalize_embeddings).__name__}")
            params.normalize = int(bool(normalize_embeddings))
        dims = _optional_int("truncate_dim", truncate_dim)
        if dims is not None:
            params.dims = dims
        depth = _optional_int("layer", layer)
        if depth is not None:
            params.layer = depth
        return params

    def resolved(self, *, pooling: Optional[str] = None, attention: Optional[str] = None,
                 normalize_embeddings: Optional[bool] = None, truncate_dim: Optional[int] = None,
                 layer: Optional[int] = None) -> Dict[str, Any]:
        """The settings ``encode`` would use for these arguments, defaults resolved by the C library."""
        params = self._embed_params(pooling, attention, normalize_embeddings, truncate_dim, layer)
        resolved, dims = self._resolve(params)
        return {"pooling": _capi.POOLING_NAMES[resolved.pooling], "attention": _capi.ATTENTION_NAMES[resolved.attention],
                "normalize_embeddings": bool(resolved.normalize), "dims": dims,
                "layer": resolved.layer or self.info.n_layers}

    def _resolve(self, params):
        resolved = _capi.llmbed_embed_params()
        dims = c_int()
        error = _capi.llmbed_error()
        check(self._lib.llmbed_embed_params_resolve(self._need_model(), byref(params), byref(resolved), byref(dims),
                                                     byref(error)), error)
        return resolved, dims.value

    def encode(
        self,
        sentences: Sentences,
        *,
        prompt: Optional[str] = None,
        prompt_name: Optional[str] = None,
        pooling: Optional[str] = None,
        attention: Optional[str] = None,
        normalize_embeddings: Optional[bool] = None,
        truncate_dim: Optional[int] = None,
        precision: str = "float32",
        layer: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        convert_to: str = "numpy",
        max_tokens: Optional[int] = None,
        truncate: bool = True,
        exclude_prompt: Optional[bool] = None,
        return_scales: bool = False,
    ):
        """Embeds texts (or pre-tokenised id lists) into a numpy array, one row per input.

        sentences: a str (returns one row, shape ``[dims]``), a sequence of str,
            or a sequence of token-id sequences (pre-tokenised: no tokenizer,
            no prompt; longer than ``max_tokens`` keeps the head, as the CLI).
        prompt: text prepended to every sentence before tokenising
            (sentence-transformers' ``prompt``); excludes ``prompt_name``.
        prompt_name: a prompt of the model folder's
            ``config_sentence_transformers.json`` (see ``prompts``).
        pooling: ``"last"``, ``"mean"``, ``"first"`` or ``"weighted-mean"``;
            None: the model family's (``info.default_pooling``).
        attention: ``"causal"`` or ``"bidirectional"``; None: the family's.
        normalize_embeddings: L2-normalise rows; None: the family's default.
        truncate_dim: Matryoshka: keep the first N values, then re-normalise
            (when normalising); None: all ``hidden_size`` values.
        precision: ``"float32"``, ``"float16"``, ``"int8"`` (per-row scale,
            ``x ~= q * scale``; see ``return_scales``) or ``"ubinary"``
            (sign bits packed 8 per byte, as sentence-transformers'
            ``quantize_embeddings``: shape ``[n, ceil(dims / 8)]`` uint8).
        layer: early exit after this many decoder layers (then the final
            norm); None: all layers.
        show_progress_bar: progress per window of 4096 texts (tqdm when
            installed, else stderr lines); None: off.
        convert_to: ``"numpy"`` (default) or ``"torch"`` (``torch.from_numpy``,
            shares the memory).
        max_tokens: longest sequence in tokens; None: the model's
            ``max_positions``; 0 or -1: no limit.
        truncate: True: cut longer inputs keeping the special tokens (as HF
            tokenizers); False: raise ``SequenceTooLongError`` naming the input.
        exclude_prompt: leave the prompt's tokens out of the pool; None: as
            the folder's ``1_Pooling/config.json`` ``include_prompt``.
        return_scales: return ``(rows, scales)``; ``scales`` float32 ``[n]``
            (the int8 scales; ones for the other precisions).

        Defaults all come from the C library, exactly as ``llmbed embed``;
        rows equal the CLI's for the same inputs and options. Errors raise
        ``llmbed.Error`` subclasses carrying the C status name and message.
        The GIL is released while the C library works.
        """
        model = self._need_model()
        single = isinstance(sentences, str)
        inputs = [sentences] if single else sentences
        if not isinstance(inputs, (Sequence, np.ndarray)) and hasattr(inputs, "__iter__"):
            inputs = list(inputs)  # pandas Series, pyarrow arrays, generators
        token_input = _is_token_input(inputs)
        if precision not in _NUMPY_DTYPES:
            if not isinstance(precision, str):
                raise wrong_type(f"precision: expected a str, got {type(precision).__name__}")
            raise invalid_argument(f"precision '{precision}': expected one of {', '.join(_NUMPY_DTYPES)}")
        if convert_to not in ("numpy", "torch"):
            raise invalid_argument(f"convert_to '{convert_to}': expected numpy or torch")
        if not isinstance(truncate, (bool, np.bool_)):
            raise wrong_type(f"truncate: expected a bool, got {type(truncate).__name__}")
        if prompt is not None and not isinstance(prompt, str):
            raise wrong_type(f"prompt: expected a str or None, got {type(prompt).__name__}")
        if prompt is not None and prompt_name is not None:
            raise invalid_argument("prompt and prompt_name exclude each other")
        if prompt_name is not None:
            prompt = self.prompt(prompt_name)
        if token_input and prompt:
            raise invalid_argument("prompt/prompt_name apply to text input; token ids bypass the tokenizer and the prompt")
        limit = _optional_int("max_tokens", max_tokens, -1)
        params = self._embed_params(pooling, attention, normalize_embeddings, truncate_dim, layer)
        _, dims = self._resolve(params)

        text_params = _capi.filled(_capi.llmbed_text_params, "llmbed_text_params_default")
        prompt_bytes = _to_bytes(prompt) if prompt else None
        text_params.prompt = prompt_bytes
        if exclude_prompt is not None:
            if not isinstance(exclude_prompt, (bool, np.bool_)):
                raise wrong_type(f"exclude_prompt: expected a bool or None, got {type(exclude_prompt).__name__}")
            text_params.exclude_prompt = int(bool(exclude_prompt))
        if limit is not None:
            text_params.max_tokens = -1 if limit == 0 else limit
        text_params.truncate = int(bool(truncate))
        text_params.precision = _capi.PRECISION[precision]

        n = len(inputs)
        row_bytes = int(self._lib.llmbed_precision_row_bytes(text_params.precision, dims))
        dtype = np.dtype(_NUMPY_DTYPES[precision])
        out = np.empty((n, row_bytes // dtype.itemsize), dtype=dtype)
        scales = np.ones(n, dtype=np.float32)
        progress = _Progress(n, bool(show_progress_bar))
        ctx = self._borrow()
        try:
            for start in range(0, n, WINDOW):
                chunk = inputs[start:start + WINDOW]
                out_address = out.ctypes.data + start * row_bytes
                scale_address = scales.ctypes.data + start * 4
                if token_input:
                    self._embed_ids(ctx, chunk, start, params, text_params, dims, out_address, scale_address, model)
                else:
                    self._embed_texts(ctx, chunk, start, params, text_params, out_address, len(chunk) * row_bytes,
                                      scale_address)
                progress.update(len(chunk))
        finally:
            self._pool.put(ctx)
            progress.close()
        result = out[0] if single else out
        if convert_to == "torch":
            import torch  # optional

            result = torch.from_numpy(result)
        if return_scales:
            return result, (scales[0] if single else scales)
        return result

    def _embed_texts(self, ctx, chunk, start, params, text_params, out_address, out_bytes, scale_address):
        if not all(isinstance(t, str) for t in chunk):
            bad = next(i for i, t in enumerate(chunk) if not isinstance(t, str))
            raise wrong_type(f"sentences[{start + bad}]: expected a str, got {type(chunk[bad]).__name__}")
        data = [_to_bytes(t) for t in chunk]
        texts = (c_char_p * len(data))(*data)
        lengths = (c_size_t * len(data))(*map(len, data))
        stats = _capi.llmbed_text_stats()
        st = self._lib.llmbed_embed_texts(ctx, texts, lengths, len(data), byref(text_params), byref(params),
                                          out_address, out_bytes, scale_address, byref(stats))
        if st != 0:
            message = self._lib.llmbed_last_error(ctx).decode("utf-8", "replace")
            if start and message.startswith("text "):
                message = _shift_index(message, start)
            check(st, message)
        self.last_stats = stats  # tokens/truncated/batches of the latest text window (any thread's)

    def _embed_ids(self, ctx, chunk, start, params, text_params, dims, out_address, scale_address, model):
        sequences = [np.asarray(s) for s in chunk]
        for i, s in enumerate(sequences):
            if s.ndim != 1 or not (s.size == 0 or np.issubdtype(s.dtype, np.integer)):
                raise wrong_type(f"sentences[{start + i}]: expected a sequence of int token ids")
        limit = text_params.max_tokens if text_params.max_tokens != 0 else self.info.max_positions
        if limit > 0:
            for i, s in enumerate(sequences):
                if s.size > limit:
                    if not text_params.truncate:
                        check(_capi.ERR_SEQUENCE_TOO_LONG, f"sentences[{start + i}]: {s.size} tokens, more than max_tokens {limit}")
                    sequences[i] = s[:limit]  # ids carry no known specials: keep the head, as the CLI
        lengths = np.fromiter((s.size for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.concatenate(sequences).astype(np.int32, copy=False) if sequences else np.empty(0, np.int32)
        for i, s in enumerate(sequences):
            if s.size and (s.min() < np.iinfo(np.int32).min or s.max() > np.iinfo(np.int32).max):
                check(_capi.ERR_TOKEN_OUT_OF_RANGE, f"sentences[{start + i}]: a token id outside the int32 range")
        float32 = text_params.precision == _capi.PRECISION["float32"]
        rows = None if float32 else np.empty((len(sequences), dims), dtype=np.float32)
        target = out_address if float32 else rows.ctypes.data
        tokens = np.ascontiguousarray(tokens)
        batch = _capi.llmbed_batch(tokens.ctypes.data_as(ctypes.POINTER(c_int32)),
                                   offsets.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), len(sequences), None)
        st = self._lib.llmbed_embed(ctx, byref(batch), byref(params), target, len(sequences) * dims)
        if st != 0:
            message = self._lib.llmbed_last_error(ctx).decode("utf-8", "replace")
            check(st, f"token input (sentences[{start}:{start + len(sequences)}]): {message}")
        if not float32:
            error = _capi.llmbed_error()
            row_bytes = self._lib.llmbed_precision_row_bytes(text_params.precision, dims)
            check(self._lib.llmbed_quantize_rows(text_params.precision, rows.ctypes.data, len(sequences), dims,
                                                 out_address, len(sequences) * row_bytes, scale_address, byref(error)),
                  error)

    def encode_query(self, sentences: Sentences, **kwargs):
        """``encode`` with the model's "query" prompt when it has one (sentence-transformers' encode_query)."""
        if kwargs.get("prompt") is None and kwargs.get("prompt_name") is None and "query" in self._prompts:
            kwargs["prompt_name"] = "query"
        return self.encode(sentences, **kwargs)

    def encode_document(self, sentences: Sentences, **kwargs):
        """``encode`` with the model's "document", "passage" or "corpus" prompt, the first it has."""
        if kwargs.get("prompt") is None and kwargs.get("prompt_name") is None:
            for name in ("document", "passage", "corpus"):
                if name in self._prompts:
                    kwargs["prompt_name"] = name
                    break
        return self.encode(sentences, **kwargs)

    @staticmethod
    def similarity(a, b) -> np.ndarray:
        """Cosine similarity matrix ``[len(a), len(b)]`` of two embedding arrays (1-D inputs count as one row)."""
        x = np.atleast_2d(np.asarray(a, dtype=np.float64))
        y = np.atleast_2d(np.asarray(b, dtype=np.float64))
        if x.shape[1] != y.shape[1]:
            raise invalid_argument(f"similarity: widths differ ({x.shape[1]} and {y.shape[1]})")
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-30)
        return (x @ y.T).astype(np.float32)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.info.architecture}, hidden {self.info.hidden_size}"
        return f"llmbed.Embedder({self.path!r}, {state})"


def _is_token_input(inputs) -> bool:
    """True for pre-tokenised input: a 2-D integer array, or a sequence whose first item is a sequence of ints."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 2 and np.issubdtype(inputs.dtype, np.integer):
            return True
        if inputs.dtype.kind in "US" or inputs.dtype == object:
            return False
        raise wrong_type(f"sentences: a {inputs.ndim}-D {inputs.dtype} array is neither texts nor token ids")
    if not isinstance(inputs, Sequence):
        raise wrong_type(f"sentences: expected a str, a sequence of str or of token-id sequences, got {type(inputs).__name__}")
    if len(inputs) == 0:
        return False
    first = inputs[0]
    return not isinstance(first, str) and isinstance(first, (Sequence, np.ndarray))


def _shift_index(message: str, start: int) -> str:
    """Window-relative "text K: ..." from C -> index into the caller's list."""
    head, _, rest = message.partition(":")
    try:
        return f"text {int(head.split()[1]) + start}:{rest}"
    except (IndexError, ValueError):
        return message
