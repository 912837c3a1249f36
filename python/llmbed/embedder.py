"""``llmbed.Embedder``: a sentence-transformers-like front end over the C library.

Everything that decides what a row is -- the family's pooling, attention
and normalisation, prompts, templates, tokenisation, truncation, windows,
batching, long inputs and the output precisions -- happens in C, in the one
pipeline every caller uses (``include/llmbed.h``, host/pipeline/); this
module turns Python arguments into the C structs, allocates the numpy result
and hands its memory to the library, which writes the rows there.

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
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_size_t, c_void_p
from dataclasses import dataclass, field
from os import PathLike, fspath
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _capi
from .errors import ClosedError, check, error_named, invalid_argument, wrong_type

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
    workers: int = 1  # engines per context: GPUs of a device list, or CPU replicas (data parallel)


def _text(raw: Optional[bytes]) -> str:
    return raw.decode() if raw else ""


def _optional_int(name: str, value, minimum: Optional[int] = None) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise wrong_type(f"{name}: expected an int or None, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise invalid_argument(f"{name}: {value} is below {minimum}")
    return int(value)


def _optional_float(name: str, value) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise wrong_type(f"{name}: expected a number or None, got {type(value).__name__}")
    return float(value)


def _optional_str(name: str, value) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong_type(f"{name}: expected a str or None, got {type(value).__name__}")
    return _to_bytes(value)


def _optional_bool(name: str, value) -> Optional[bool]:
    if value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise wrong_type(f"{name}: expected a bool or None, got {type(value).__name__}")
    return bool(value)


def _choice(name: str, value, kind: str) -> int:
    """The C value of an enum name as the CLI spells it (tables from the library); None = its default."""
    table = _capi.enum_table(kind)
    if value is None:
        return table["default"]
    if not isinstance(value, str):
        raise wrong_type(f"{name}: expected a str, got {type(value).__name__}")
    key = value.replace("_", "-")
    if key not in table or key in ("default", "none"):
        names = ", ".join(k for k in table if k not in ("default", "none"))
        raise invalid_argument(f"{name} '{value}': expected one of {names}")
    return table[key]


def _to_bytes(text: str) -> bytes:
    # Lone surrogates become invalid UTF-8, which the C tokenizer replaces by
    # U+FFFD as Hugging Face tokenizers do.
    return text.encode("utf-8", "surrogatepass")


def _device(device: str, ctx_params) -> None:
    """`device` into ctx_params (device, ordinal, GPU list) by the C library's parser."""
    if not isinstance(device, str):
        raise wrong_type(f"device: expected a str ('auto', 'cpu', 'cuda', 'cuda:N', 'cuda:N,M,...' or 'cuda:all'), "
                         f"got {type(device).__name__}")
    if _capi.lib().llmbed_device_parse(device.encode(), byref(ctx_params)) != 0:
        raise invalid_argument(f"device '{device}': expected auto, cpu, cuda, cuda:N, cuda:N,M,... or cuda:all")


class _Progress:
    """tqdm when installed, else one stderr line per tenth; fed by the C library's progress callback."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.enabled = enabled and total > 0
        self.total, self.done, self.tenth = total, 0, 0
        if self.enabled:
            try:
                from tqdm.auto import tqdm  # optional

                self.bar = tqdm(total=total, desc="llmbed encode", unit="text")
            except ImportError:
                pass

    def update(self, done: int) -> None:
        if not self.enabled or done <= self.done:
            return
        if self.bar is not None:
            self.bar.update(done - self.done)
        elif 10 * done // self.total > self.tenth:
            self.tenth = 10 * done // self.total
            print(f"llmbed: encoded {done}/{self.total} texts", file=sys.stderr, flush=True)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Call:
    """The C-side arguments of one encode call, kept alive while the library uses them."""

    def __init__(self):
        self.keep: List[Any] = []

    def hold(self, value):
        self.keep.append(value)
        return value


class Embedder:
    """A model loaded by the C library, with contexts to embed on.

    ``Embedder(path, device="auto", threads=None, batch_tokens=None, contexts=1, replicas=1, weights="default",
    family=None, adapters=None, rope_scaling=None, memory_limit=None)``

    * ``path``: a Hugging Face folder (config.json + safetensors + tokenizer.json,
      optional sentence-transformers files) or a ``.gguf`` file.
    * ``device``: ``"auto"`` (the GPU when one is usable, else the CPU with
      one note on stderr saying why), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``;
      ``info.device`` says where it runs. Data parallel over GPUs:
      ``"cuda:0,2,3"`` or ``"cuda:all"`` (one engine per GPU in every
      context, fed longest-first batches by the pipeline; ``info.workers``).
    * ``replicas``: CPU data parallel: engines per context over disjoint
      shares of ``threads`` (rows identical to one replica, in input order).
    * ``threads``: CPU threads per context (None: all cores).
    * ``batch_tokens``: token budget of one forward pass (None: the library's
      default, the one ``llmbed embed`` uses).
    * ``contexts``: contexts in the pool, i.e. how many ``encode`` calls from
      different threads may run at once (module docstring).
    * ``weights``: how the CPU holds the weight matrices: ``"native"`` (as the
      file stores them, rows bit-identical to f32), ``"bf16"``, ``"f32"``;
      ``"default"`` is native (f32 with LoRA adapters).
    * ``family``, ``adapters``, ``rope_scaling``, ``memory_limit`` (MiB): as
      ``llmbed embed --family/--adapter/--rope-scaling/--memory-limit``.

    Use as a context manager or call ``close()``; afterwards every method
    raises ``llmbed.ClosedError``.
    """

    def __init__(self, path: Union[str, PathLike], device: str = "auto", threads: Optional[int] = None,
                 batch_tokens: Optional[int] = None, contexts: int = 1, replicas: int = 1, weights: str = "default",
                 family: Optional[str] = None, adapters: Optional[Sequence[Union[str, PathLike]]] = None,
                 rope_scaling: Optional[str] = None, memory_limit: Optional[int] = None):
        if not isinstance(path, (str, PathLike)):
            raise wrong_type(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        self._lib = _capi.lib()
        self._model = None
        self._contexts: List[int] = []
        self._pool: "queue.Queue[int]" = queue.Queue()
        self._state = threading.Lock()
        ctx_params = _capi.filled(_capi.llmbed_ctx_params, "llmbed_ctx_params_default")
        _device(device, ctx_params)
        replicas = _optional_int("replicas", replicas, 1)
        threads = _optional_int("threads", threads, 0) or 0
        batch_tokens = _optional_int("batch_tokens", batch_tokens, 1)
        contexts = _optional_int("contexts", contexts, 1)
        memory_limit = _optional_int("memory_limit", memory_limit, 0)
        self.path = fspath(path)

        model_params = _capi.filled(_capi.llmbed_model_params, "llmbed_model_params_default")
        model_params.n_threads = threads
        if weights not in _capi.WEIGHTS:
            raise invalid_argument(f"weights: expected one of native, bf16, f32, default; got {weights!r}")
        model_params.weights = _capi.WEIGHTS[weights]
        model_params.family = _optional_str("family", family)
        model_params.rope_scaling = _optional_str("rope_scaling", rope_scaling)
        if adapters is not None:
            if isinstance(adapters, (str, PathLike)) or not all(isinstance(a, (str, PathLike)) for a in adapters):
                raise wrong_type("adapters: expected a sequence of folder paths")
            encoded = [fspath(a).encode() for a in adapters]
            model_params.adapters = (c_char_p * len(encoded))(*encoded)
            model_params.n_adapters = len(encoded)
        error = _capi.llmbed_error()
        model = c_void_p()
        st = self._lib.llmbed_model_load(self.path.encode(), byref(model_params), byref(model), byref(error))
        check(st, error)
        self._model = model
        try:
            raw = _capi.llmbed_model_info(struct_size=ctypes.sizeof(_capi.llmbed_model_info))
            check(self._lib.llmbed_model_get_info(model, byref(raw)), b"cannot read the model info")
            ctx_params.n_threads, ctx_params.batch_tokens = threads, batch_tokens or 0
            ctx_params.replicas = replicas
            ctx_params.memory_limit_bytes = (memory_limit or 0) << 20
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
                n_parameters=raw.n_parameters, default_pooling=_capi.enum_name("pooling", raw.default_pooling),
                default_attention=_capi.enum_name("attention", raw.default_attention),
                default_normalize=bool(raw.default_normalize), family=_text(raw.family),
                family_reason=_text(raw.family_reason), appends_eos=bool(raw.appends_eos),
                query_format=_text(raw.query_format), has_latent_pooling=bool(raw.has_latent_pooling),
                weights=_text(raw.weights), weight_bytes=raw.weight_bytes,
                prompts=dict(self._prompts), device=device, threads=threads,
                batch_tokens=int(self._lib.llmbed_ctx_batch_tokens(self._contexts[0])), contexts=contexts,
                workers=int(self._lib.llmbed_ctx_workers(self._contexts[0])))
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
        return "cpu" if kind == _capi.enum_table("device")["cpu"] else f"cuda:{index.value}"

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
            if st != _capi.status_value("LLMBED_ERR_BUFFER_TOO_SMALL"):
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
                if st != _capi.status_value("LLMBED_ERR_BUFFER_TOO_SMALL"):
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
    def _embed_params(self, pooling=None, attention=None, normalize_embeddings=None, truncate_dim=None, layer=None,
                      chunk_tokens=None, think_ratio=None, attn_temperature=None, mask_prefix_tokens=None):
        """llmbed_embed_params from keyword arguments (None = the C default): one line per C field."""
        params = _capi.filled(_capi.llmbed_embed_params, "llmbed_embed_params_default")
        params.pooling = _choice("pooling", pooling, "pooling")
        params.attention = _choice("attention", attention, "attention")
        normalize = _optional_bool("normalize_embeddings", normalize_embeddings)
        if normalize is not None:
            params.normalize = int(normalize)
        for name, value, field_name in (("truncate_dim", truncate_dim, "dims"), ("layer", layer, "layer"),
                                        ("chunk_tokens", chunk_tokens, "chunk_tokens"),
                                        ("mask_prefix_tokens", mask_prefix_tokens, "mask_prefix_tokens")):
            value = _optional_int(name, value)
            if value is not None:
                setattr(params, field_name, value)
        for name, value, field_name in (("think_ratio", think_ratio, "think_ratio"),
                                        ("attn_temperature", attn_temperature, "attention_temperature")):
            value = _optional_float(name, value)
            if value is not None:
                setattr(params, field_name, value)
        return params

    def _text_params(self, call: _Call, prompt=None, prompt_name=None, precision="float32", max_tokens=None,
                     truncate=True, exclude_prompt=None, template=None, pool_span=None, method=None, document=None):
        """llmbed_text_params from keyword arguments (None = the C default): one line per C field."""
        text = _capi.filled(_capi.llmbed_text_params, "llmbed_text_params_default")
        if prompt is not None and prompt_name is not None:
            raise invalid_argument("prompt and prompt_name exclude each other")
        if prompt_name is not None:
            prompt = self.prompt(prompt_name)
        prompt_bytes = _optional_str("prompt", prompt)
        text.prompt = call.hold(prompt_bytes) if prompt_bytes else None
        exclude = _optional_bool("exclude_prompt", exclude_prompt)
        if exclude is not None:
            text.exclude_prompt = int(exclude)
        limit = _optional_int("max_tokens", max_tokens, -1)
        if limit is not None:
            text.max_tokens = -1 if limit == 0 else limit
        if not isinstance(truncate, (bool, np.bool_)):
            raise wrong_type(f"truncate: expected a bool, got {type(truncate).__name__}")
        text.truncate = int(bool(truncate))
        if not isinstance(precision, str) or precision not in _capi.enum_table("precision"):
            if not isinstance(precision, str):
                raise wrong_type(f"precision: expected a str, got {type(precision).__name__}")
            raise invalid_argument(f"precision '{precision}': expected one of {', '.join(_NUMPY_DTYPES)}")
        text.precision = _capi.enum_table("precision")[precision]
        text.template_text = call.hold(_optional_str("template", template))
        if pool_span is not None:
            text.pool_span = _choice("pool_span", pool_span, "pool_span")
        text.method = call.hold(_optional_str("method", method))
        document_bytes = _optional_str("document", document)
        if document_bytes is not None:
            text.document = ctypes.addressof(call.hold(ctypes.create_string_buffer(document_bytes, len(document_bytes))))
            text.document_len = len(document_bytes)
        return text

    def resolved(self, *, pooling: Optional[str] = None, attention: Optional[str] = None,
                 normalize_embeddings: Optional[bool] = None, truncate_dim: Optional[int] = None,
                 layer: Optional[int] = None) -> Dict[str, Any]:
        """The settings ``encode`` would use for these arguments, defaults resolved by the C library."""
        params = self._embed_params(pooling, attention, normalize_embeddings, truncate_dim, layer)
        resolved, dims = self._resolve(params)
        return {"pooling": _capi.enum_name("pooling", resolved.pooling),
                "attention": _capi.enum_name("attention", resolved.attention),
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
        chunk_tokens: Optional[int] = None,
        think_ratio: Optional[float] = None,
        attn_temperature: Optional[float] = None,
        mask_prefix_tokens: Optional[int] = None,
        template: Optional[str] = None,
        pool_span: Optional[str] = None,
        method: Optional[str] = None,
        document: Optional[str] = None,
        late_chunking: Union[None, int, Sequence[Sequence[Sequence[int]]]] = None,
    ):
        """Embeds texts (or pre-tokenised id lists) into a numpy array, one row per input.

        sentences: a str (returns one row, shape ``[dims]``), a sequence of str,
            or a sequence of token-id sequences (pre-tokenised: no tokenizer,
            no prompt; longer than ``max_tokens`` keeps the head, as the CLI).
        prompt: text prepended to every sentence before tokenising
            (sentence-transformers' ``prompt``); excludes ``prompt_name``.
        prompt_name: a prompt of the model folder's
            ``config_sentence_transformers.json`` (see ``prompts``).
        pooling: ``"last"``, ``"mean"``, ``"first"``, ``"weighted-mean"`` or
            ``"latent"``; None: the model family's (``info.default_pooling``).
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
        show_progress_bar: progress from the C library after every batch
            (tqdm when installed, else stderr lines); None: off.
        convert_to: ``"numpy"`` (default) or ``"torch"`` (``torch.from_numpy``,
            shares the memory).
        max_tokens: longest sequence in tokens; None: the model's
            ``max_positions``; 0 or -1: no limit.
        truncate: True: cut longer inputs keeping the special tokens (as HF
            tokenizers); False: raise ``SequenceTooLongError`` naming the input.
        exclude_prompt: leave the prompt's tokens out of the pool; None: the
            family's rule (NV-Embed, LLM2Vec, GritLM), else the folder's
            ``1_Pooling/config.json`` ``include_prompt``.
        return_scales: return ``(rows, scales)``; ``scales`` float32 ``[n]``
            (the int8 scales; ones for the other precisions).
        chunk_tokens, think_ratio, attn_temperature, mask_prefix_tokens,
        template, pool_span, method, document: as ``llmbed embed``'s
            ``--chunk-tokens``, ``--think-ratio``, ``--attn-temperature``,
            ``--mask-prefix-tokens``, ``--template``, ``--pool-span``,
            ``--method`` and ``--document`` (suffix mode: the document's text;
            every sentence is embedded as its continuation).
        late_chunking: an int N (``--late-chunking tokens:N``: one row per
            span of N tokens) or, per sentence, a list of ``(begin, end)``
            token spans (``--late-chunking spans``). Returns ``(rows,
            row_index)``, ``row_index`` int64 ``[rows, 3]``: the sentence, and
            the span's begin and end of each row.

        Defaults all come from the C library, exactly as ``llmbed embed``;
        rows equal the CLI's for the same inputs and options. Errors raise
        ``llmbed.Error`` subclasses carrying the C status name and message.
        The GIL is released while the C library works.
        """
        self._need_model()
        single = isinstance(sentences, str)
        inputs = [sentences] if single else sentences
        if not isinstance(inputs, (Sequence, np.ndarray)) and hasattr(inputs, "__iter__"):
            inputs = list(inputs)  # pandas Series, pyarrow arrays, generators
        token_input = _is_token_input(inputs)
        if convert_to not in ("numpy", "torch"):
            raise invalid_argument(f"convert_to '{convert_to}': expected numpy or torch")
        call = _Call()
        params = self._embed_params(pooling, attention, normalize_embeddings, truncate_dim, layer, chunk_tokens,
                                    think_ratio, attn_temperature, mask_prefix_tokens)
        text_params = self._text_params(call, prompt, prompt_name, precision, max_tokens, truncate, exclude_prompt,
                                        template, pool_span, method, document)
        if token_input and text_params.prompt:
            raise invalid_argument("prompt/prompt_name apply to text input; token ids bypass the tokenizer and the prompt")
        _, dims = self._resolve(params)
        n = len(inputs)
        pointers, lengths = self._c_inputs(call, inputs, token_input)
        dtype = np.dtype(_NUMPY_DTYPES[precision])
        row_bytes = int(self._lib.llmbed_precision_row_bytes(text_params.precision, dims))
        progress = _Progress(n, bool(show_progress_bar))
        if show_progress_bar:
            text_params.on_progress = call.hold(_capi.TEXT_PROGRESS_CALLBACK(
                lambda _user, stats: progress.update(int(stats.contents.inputs))))
        late = _LateRows(dtype, row_bytes) if late_chunking is not None else None
        if late is not None:
            self._late_chunking(call, text_params, late_chunking, n)
            text_params.on_rows = call.hold(_capi.ROW_CALLBACK(late.take))
            out = scales = None
            out_address = scale_address = out_bytes = 0
        else:
            out = np.empty((n, row_bytes // dtype.itemsize), dtype=dtype)
            scales = np.ones(n, dtype=np.float32)
            out_address, scale_address, out_bytes = out.ctypes.data, scales.ctypes.data, out.nbytes
        embed = self._lib.llmbed_embed_ids if token_input else self._lib.llmbed_embed_texts
        stats = _capi.llmbed_text_stats()
        ctx = self._borrow()
        try:
            st = embed(ctx, pointers, lengths, n, byref(text_params), byref(params), out_address or None, out_bytes,
                       scale_address or None, byref(stats))
            message = self._lib.llmbed_last_error(ctx) if st != 0 else b""
        finally:
            self._pool.put(ctx)
            progress.close()
        if late is not None and late.error is not None:
            raise late.error
        check(st, message)
        self.last_stats = stats  # tokens/truncated/batches of the latest call (any thread's)
        if late is not None:
            rows, index, late_scales = late.result()
            result = _convert(rows, convert_to)
            return (result, index, late_scales) if return_scales else (result, index)
        result = _convert(out[0] if single else out, convert_to)
        if return_scales:
            return result, (scales[0] if single else scales)
        return result

    def _c_inputs(self, call: _Call, inputs, token_input: bool):
        """Pointer and length arrays of the inputs: UTF-8 bytes, or int32 id arrays."""
        n = len(inputs)
        lengths = (c_size_t * max(n, 1))()
        if not token_input:
            for i, t in enumerate(inputs):
                if not isinstance(t, str):
                    raise wrong_type(f"sentences[{i}]: expected a str, got {type(t).__name__}")
            data = [_to_bytes(t) for t in inputs]
            for i, d in enumerate(data):
                lengths[i] = len(d)
            return call.hold((c_char_p * max(n, 1))(*data)), lengths
        arrays = []
        for i, s in enumerate(inputs):
            a = np.asarray(s)
            if a.ndim != 1 or not (a.size == 0 or np.issubdtype(a.dtype, np.integer)):
                raise wrong_type(f"sentences[{i}]: expected a sequence of int token ids")
            if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
                raise error_named("LLMBED_ERR_TOKEN_OUT_OF_RANGE", f"sentences[{i}]: a token id outside the int32 range")
            arrays.append(call.hold(np.ascontiguousarray(a, dtype=np.int32)))
            lengths[i] = a.size
        pointers = (POINTER(c_int32) * max(n, 1))(*(a.ctypes.data_as(POINTER(c_int32)) for a in arrays))
        return call.hold(pointers), lengths

    @staticmethod
    def _late_chunking(call: _Call, text_params, late_chunking, n: int) -> None:
        """text_params for --late-chunking tokens:N (an int) or spans (one list of (begin, end) per input)."""
        if isinstance(late_chunking, (int, np.integer)) and not isinstance(late_chunking, bool):
            if late_chunking < 1:
                raise invalid_argument(f"late_chunking: {late_chunking} tokens per span, need at least 1")
            text_params.late_chunking = int(late_chunking)
            return
        if not isinstance(late_chunking, Sequence) or len(late_chunking) != n:
            raise wrong_type("late_chunking: expected an int (tokens per span) or one list of (begin, end) spans "
                             "per sentence")
        arrays = [call.hold(np.ascontiguousarray(np.asarray(spans, dtype=np.int32).reshape(-1)))
                  for spans in late_chunking]
        text_params.late_chunking = -1
        text_params.spans = call.hold((POINTER(c_int32) * max(n, 1))(*(a.ctypes.data_as(POINTER(c_int32))
                                                                        for a in arrays)))
        text_params.n_spans = call.hold((c_int * max(n, 1))(*(a.size // 2 for a in arrays)))

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


class _LateRows:
    """The rows of a late-chunking call, taken from the C row callback window by window."""

    def __init__(self, dtype, row_bytes: int):
        self.dtype, self.row_bytes = dtype, row_bytes
        self.rows, self.index, self.scales = [], [], []
        self.error: Optional[BaseException] = None

    def take(self, _user, batch_ptr) -> int:
        try:
            b = batch_ptr.contents
            n = b.n_rows
            raw = ctypes.string_at(b.rows, n * self.row_bytes)
            self.rows.append(np.frombuffer(raw, dtype=self.dtype).reshape(n, -1))
            inputs = np.ctypeslib.as_array(b.inputs, shape=(n,)).copy()
            spans = np.ctypeslib.as_array(b.spans, shape=(n, 2)).copy()
            self.index.append(np.column_stack([inputs, spans]).astype(np.int64))
            self.scales.append(np.ctypeslib.as_array(b.scales, shape=(n,)).copy())
            return 0
        except BaseException as e:  # noqa: BLE001 - raised after the C call returns
            self.error = e
            return _capi.status_value("LLMBED_ERR_INTERRUPTED")

    def result(self):
        if not self.rows:
            return np.empty((0, 0), self.dtype), np.empty((0, 3), np.int64), np.empty(0, np.float32)
        return np.concatenate(self.rows), np.concatenate(self.index), np.concatenate(self.scales)


def _convert(result, convert_to: str):
    if convert_to == "torch":
        import torch  # optional

        return torch.from_numpy(result)
    return result
