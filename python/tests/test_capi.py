"""The ctypes mirror of include/llmbed.h against the C compiler's view of it."""
import ctypes
import shutil
import subprocess

import pytest

import llmbed
from llmbed import _capi
from conftest import REPO

STRUCTS = ["llmbed_error", "llmbed_model_params", "llmbed_model_info", "llmbed_ctx_params", "llmbed_batch",
           "llmbed_embed_params", "llmbed_tokenize_params", "llmbed_text_params", "llmbed_text_stats",
           "llmbed_file_stats", "llmbed_file_params"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_struct_layouts_match_the_header(tmp_path):
    fields = []
    for name in STRUCTS:
        fields.append(f'printf("{name} %zu\\n", sizeof({name}));')
        for field, _ in getattr(_capi, name)._fields_:
            fields.append(f'printf("{name}.{field} %zu\\n", offsetof({name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "llmbed.h"\nint main(void) {\n'
                      + "\n".join(fields) + "\nreturn 0;\n}\n")
    subprocess.run(["cc", "-std=c11", "-I", str(REPO / "include"), str(source), "-o", str(tmp_path / "layout")],
                   check=True)
    c_side = dict(line.rsplit(" ", 1) for line in
                  subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout.splitlines())
    for name in STRUCTS:
        struct = getattr(_capi, name)
        assert ctypes.sizeof(struct) == int(c_side[name]), name
        for field, _ in struct._fields_:
            assert getattr(struct, field).offset == int(c_side[f"{name}.{field}"]), f"{name}.{field}"


def test_every_status_has_an_exception_class():
    lib = _capi.lib()
    status = 1
    while lib.llmbed_status_name(status) is not None:
        cls = llmbed.errors.error_for(status, "x").__class__
        assert cls.status == status and cls.status_name == lib.llmbed_status_name(status).decode()
        assert issubclass(cls, llmbed.Error)
        status += 1
    assert status > 30
    assert issubclass(llmbed.InvalidArgumentError, ValueError)
    assert llmbed.ModelFileNotFoundError.status_name == "LLMBED_ERR_FILE_NOT_FOUND"
