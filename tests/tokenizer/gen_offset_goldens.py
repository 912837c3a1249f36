#!/usr/bin/env python3
"""Goldens for token offsets (tests/cpu/test_tokenizer_offsets.cpp).

For each tokenizer below, Hugging Face `tokenizers` encodes every text
(add_special_tokens=False) with `offsets` (character offsets); this writes
the ids and the offsets converted to UTF-8 byte offsets to
tests/data/offsets/hf_offsets.json. ByteLevel's trim_offsets is switched off
so that a token's offsets cover its leading space as llmbed's do (the
pooling span rule needs where the token's bytes came from, not a trimmed
view of it).

The tokenizer.json files of the shared GGUF vocabularies come from
tests/tokenizer/gguf_to_hf.py (run it first); the C++ test loads the same
vocabulary from the GGUF file (or the same tokenizer.json) and must
reproduce ids and offsets exactly.

Usage: python3 tests/tokenizer/gen_offset_goldens.py
"""
import json
import os

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATED = os.path.join(ROOT, "tests", "data", "generated", "tokenizer")
OUT = os.path.join(ROOT, "tests", "data", "offsets", "hf_offsets.json")

# name -> (what the C++ test loads, the HF tokenizer.json)
TOKENIZERS = {
    "gpt-2": ("gguf:gpt-2", os.path.join(GENERATED, "gpt-2", "tokenizer.json")),
    "llama-spm": ("gguf:llama-spm", os.path.join(GENERATED, "llama-spm", "tokenizer.json")),
    "llama-spm-metaspace": ("generated:llama-spm-metaspace",
                            os.path.join(GENERATED, "llama-spm-metaspace", "tokenizer.json")),
    "gpt-2-qwen2-style": ("generated:gpt-2-qwen2-style", os.path.join(GENERATED, "gpt-2-qwen2-style", "tokenizer.json")),
    "tiny-bpe": ("data:tokenizer/tiny_bpe.json", os.path.join(ROOT, "tests", "data", "tokenizer", "tiny_bpe.json")),
}

TEXTS = [
    "Hello world",
    " leading space and trailing ",
    "héllo wörld, naïve café",
    "日本語のテキスト",
    "emoji 🤗 and 🦙🤖 test",
    "ﬁne Ａｂｃ İstanbul",
    "tab\there\nnew  line",
    'This sentence: "A man is playing a guitar." means in one word:"',
    "Rewrite the sentence: Ein Mann spielt Gitarre.\nRewritten sentence: Ein Mann spielt Gitarre.",
    "Digits 1234567 and 3.14",
    "xXx hello [MASK] there",
    "",
]


# Template cases: the pooled span by the overlap rule of host/template/template.h,
# computed here from HF's offsets (an oracle independent of llmbed's).
TEMPLATES = [
    ("{text} end", "Hello world", "text"),                      # text at the start
    ("start: {text}", "Hello world", "text"),                   # text at the end
    ("Rewrite the sentence: {text}\nRewritten sentence: {text}", "héllo wörld 日本", "last-text"),
    ("Rewrite the sentence: {text}\nRewritten sentence: {text}", "héllo wörld 日本", "text"),
    ('This sentence: "{text}" means in one word:"', "naïve café 🤗", "text"),
    ("pre{text}", "fix", "text"),                               # merges with the template
    ("{{literal}} {text}!", "x", "text"),
]


def render(template, text):
    literal = template.replace("{text}", "\0").replace("{{", "{").replace("}}", "}")
    pieces = literal.split("\0")
    out, starts = pieces[0], []
    for piece in pieces[1:]:
        starts.append(len(out))
        out += text + piece
    return out, starts


def template_cases(tok):
    cases = []
    for template, text, span in TEMPLATES:
        rendered, starts = render(template, text)
        enc = tok.encode(rendered, add_special_tokens=False)
        a = starts[0] if span == "text" else starts[-1]
        b = a + len(text)
        inside = [i for i, (s, e) in enumerate(enc.offsets) if s < b and a < e]
        alone = tok.encode(text, add_special_tokens=False).ids
        cases.append({"template": template, "text": text, "span": span, "ids": enc.ids,
                      "begin": inside[0], "end": inside[-1] + 1,
                      "differs_alone": enc.ids[inside[0]:inside[-1] + 1] != alone})
    return cases


def untrimmed(path):
    spec = json.load(open(path, encoding="utf-8"))

    def visit(node):
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel":
                node["trim_offsets"] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    return Tokenizer.from_str(json.dumps(spec))


def byte_offsets(text, offsets):
    at = [0]
    for ch in text:
        at.append(at[-1] + len(ch.encode("utf-8")))
    return [[at[a], at[b]] for a, b in offsets]


def main():
    out = {"source": "HF tokenizers %s, add_special_tokens=False, ByteLevel trim_offsets=False; byte offsets"
                     % __import__("tokenizers").__version__, "tokenizers": {}}
    for name, (load, path) in TOKENIZERS.items():
        tok = untrimmed(path)
        cases = []
        for text in TEXTS:
            enc = tok.encode(text, add_special_tokens=False)
            cases.append({"text": text, "ids": enc.ids, "offsets": byte_offsets(text, enc.offsets)})
        out["tokenizers"][name] = {"load": load, "cases": cases, "templates": template_cases(tok)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
