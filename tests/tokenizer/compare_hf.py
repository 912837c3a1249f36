#!/usr/bin/env python3
"""Compare llmbed's tokenizer.json path with Hugging Face `tokenizers`.

For every tokenizer.json written by gguf_to_hf.py (tests/data/generated/
tokenizer/<name>/), encodes a generated mixed-script corpus (corpus.py:
English, code, CJK, Arabic, emoji, combining marks, control characters,
invalid UTF-8) with HF tokenizers (`encode(text, add_special_tokens=False)`
on the bytes decoded as Python does, errors="replace") and with llmbed
(build/llmbed_tokenizer_bench encode, on the raw bytes), and reports the
cases and mismatches per vocabulary. Exit status 1 when any case differs.

Usage: python3 tests/tokenizer/compare_hf.py --bench BUILD/llmbed_tokenizer_bench [--cases N]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import make_corpus  # noqa: E402
from gguf_to_hf import DEFAULT_OUT  # noqa: E402

EXTRA = [b"", b" ", b"a" * 5000, b"x" * 3000 + b" " * 100 + b"\xff" * 10, "🦙".encode() * 50,
         b"\xf0\x9f\xa6", b"<|endoftext|> hi", b"<s> </s> <unk>", b"  \n  \n", b"'S 'LL 'Ve"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to the llmbed_tokenizer_bench executable")
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--dir", default=DEFAULT_OUT)
    args = ap.parse_args()
    texts = make_corpus(args.cases) + EXTRA
    total_bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        hexfile = os.path.join(tmp, "corpus.hex")
        with open(hexfile, "w") as f:
            for t in texts:
                f.write(t.hex() + "\n")
        for name in sorted(os.listdir(args.dir)):
            path = os.path.join(args.dir, name, "tokenizer.json")
            if not os.path.exists(path):
                continue
            hf = Tokenizer.from_file(path)
            expected = [e.ids for e in hf.encode_batch([t.decode("utf-8", "replace") for t in texts],
                                                       add_special_tokens=False)]
            run = subprocess.run([args.bench, "encode", path, hexfile], capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{name}: llmbed failed: {run.stderr.strip()}")
                total_bad += len(texts)
                continue
            got = [[int(x) for x in line.split()] for line in run.stdout.split("\n")[:len(texts)]]
            bad = [i for i in range(len(texts)) if got[i] != expected[i]]
            total_bad += len(bad)
            print(f"{name:15s} cases {len(texts):5d}  mismatches {len(bad)}")
            for i in bad[:3]:
                print(f"    case {i}: {texts[i][:80]!r}\n      hf     {expected[i][:20]}\n      llmbed {got[i][:20]}")
    print(f"total mismatches: {total_bad}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
