"""Exceptions: one ``llmbed.Error`` subclass per ``llmbed_status`` code.

The classes are generated from the C library's own status list
(``llmbed_status_name``), so a status added in C gets its class here without
an edit. Names drop the ``LLMBED_ERR_`` prefix and are CamelCased with an
``Error`` suffix (``InvalidArgumentError``, ``EmptySequenceError``,
``TokenOutOfRangeError``, ...); a name that would hide a builtin gets a
``Model`` prefix (``ModelFileNotFoundError``). Some also derive from the
matching builtin: invalid arguments are ``ValueError``s, a missing file a
``FileNotFoundError``, out of memory a ``MemoryError``.
"""
from __future__ import annotations

import builtins
from typing import Dict, Optional, Type

from . import _capi


class Error(Exception):
    """An llmbed failure: ``status`` (int), ``status_name`` ("LLMBED_ERR_...") and the C library's ``message``."""

    status: int = -1
    status_name: str = "LLMBED_ERR_UNKNOWN"

    def __init__(self, message: str, status: Optional[int] = None, status_name: Optional[str] = None):
        if status is not None:
            self.status = status
        if status_name is not None:
            self.status_name = status_name
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


_BUILTIN_BASES = {"LLMBED_ERR_INVALID_ARGUMENT": (ValueError,), "LLMBED_ERR_FILE_NOT_FOUND": (FileNotFoundError,),
                  "LLMBED_ERR_OUT_OF_MEMORY": (MemoryError,)}

_BY_STATUS: Dict[int, Type[Error]] = {}


def _class_name(status_name: str) -> str:
    words = status_name.removeprefix("LLMBED_ERR_").split("_")
    name = "".join(w.capitalize() for w in words) + "Error"
    return "Model" + name if hasattr(builtins, name) else name


def _generate() -> Dict[str, Type[Error]]:
    lib = _capi.lib()
    classes = {}
    for status in range(1, 1000):
        raw = lib.llmbed_status_name(status)
        if raw is None:
            break
        status_name = raw.decode()
        doc = lib.llmbed_status_str(status).decode()
        cls = type(_class_name(status_name), (Error,) + _BUILTIN_BASES.get(status_name, ()),
                   {"status": status, "status_name": status_name, "__doc__": f"{status_name}: {doc}.",
                    "__module__": "llmbed"})
        classes[cls.__name__] = cls
        _BY_STATUS[status] = cls
    return classes


def error_for(status: int, message: str) -> Error:
    """The exception for a non-OK status with the C message."""
    cls = _BY_STATUS.get(status, Error)
    if not message:
        message = (_capi.lib().llmbed_status_str(status) or b"").decode()
    if cls is Error:
        return Error(message, status, f"LLMBED_STATUS_{status}")
    return cls(message)


def check(status: int, message_source) -> None:
    """Raises the status's exception unless it is LLMBED_OK; message_source: bytes, str, llmbed_error or callable."""
    if status == 0:
        return
    if callable(message_source):
        message_source = message_source()
    if isinstance(message_source, _capi.llmbed_error):
        message_source = message_source.message
    if isinstance(message_source, bytes):
        message_source = message_source.decode("utf-8", "replace")
    raise error_for(status, message_source or "")


def error_named(status_name: str, message: str) -> Error:
    """The exception of the status called status_name ("LLMBED_ERR_FILE_NOT_FOUND"), for the binding's own checks."""
    return error_for(_capi.status_value(status_name), message)


def invalid_argument(message: str) -> Error:
    """InvalidArgumentError raised by the binding itself (an unknown name such as a pooling)."""
    return error_named("LLMBED_ERR_INVALID_ARGUMENT", message)


def wrong_type(message: str) -> Error:
    """ArgumentTypeError raised by the binding itself."""
    return ArgumentTypeError(message)


GENERATED = _generate()


class ClosedError(GENERATED["InvalidArgumentError"]):
    """The Embedder was closed (``close()`` or the end of its ``with`` block); create a new one."""


class ArgumentTypeError(GENERATED["InvalidArgumentError"], TypeError):
    """An argument of the wrong Python type (also a ``TypeError``), found before any C call."""
