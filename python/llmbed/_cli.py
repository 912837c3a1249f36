"""Forwards to the ``llmbed`` executable installed beside the library."""
import os
import sys

from ._capi import cli_path


def main() -> None:
    path = cli_path()
    if not path.exists():
        sys.exit(f"llmbed: the CLI {path} is missing (reinstall with pip install ./python, or set LLMBED_CLI)")
    # exec: the CLI's exit status (the llmbed_status code), signals and
    # stdin/stdout pass through unchanged.
    os.execv(str(path), [str(path), *sys.argv[1:]])
