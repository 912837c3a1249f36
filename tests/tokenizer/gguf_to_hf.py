#!/usr/bin/env python3
"""Convert llama.cpp vocab-only GGUF files to Hugging Face tokenizer.json.

For every vocabulary in ../shared/testdata/tokenizer/<name>/vocab.gguf this
writes tests/data/generated/tokenizer/<name>/tokenizer.json (gitignored):
an HF `tokenizers` BPE model built from tokenizer.ggml.tokens/merges (or,
for SentencePiece "llama" vocabularies, merges derived from the scores the
way transformers' SpmConverter does), and the normalizer / pre-tokenizer
that the original model's tokenizer.json uses for its tokenizer.ggml.pre
name. Each file is loaded back with `tokenizers.Tokenizer` to validate it.

Usage: python3 tests/tokenizer/gguf_to_hf.py [--testdata DIR] [--out DIR]
       python3 tests/tokenizer/gguf_to_hf.py --gguf FILE.gguf --out DIR
"""
import argparse
import json
import os
import sys

import gguf
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TESTDATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "tokenizer"))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "generated", "tokenizer")

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def split(regex, behavior="Isolated"):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": behavior, "invert": False}


def byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def digits(individual):
    return {"type": "Digits", "individual_digits": individual}


DEEPSEEK_CJK = "[一-龥ࠀ-一가-퟿]+"
DEEPSEEK_LETTERS = ("\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+")

# The pre_tokenizer section of each model's own tokenizer.json, by GGUF pre name.
PRE_TOKENIZERS = {
    None: byte_level(True),  # gpt-neox: plain GPT-2 ByteLevel
    "gpt-2": byte_level(True),
    "mpt": byte_level(True),
    "starcoder": {"type": "Sequence", "pretokenizers": [digits(True), byte_level(True)]},
    "refact": {"type": "Sequence", "pretokenizers": [digits(True), byte_level(True)]},
    "smollm": {"type": "Sequence", "pretokenizers": [digits(True), byte_level(True)]},
    "falcon": {"type": "Sequence", "pretokenizers": [
        {"type": "Punctuation", "behavior": "Contiguous"}, byte_level(True), digits(False),
        split("[0-9][0-9][0-9]")]},
    "deepseek-coder": {"type": "Sequence", "pretokenizers": [
        split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"), split(DEEPSEEK_CJK), digits(True),
        byte_level(False)]},
    "deepseek-llm": {"type": "Sequence", "pretokenizers": [
        split("[\r\n]"), split(DEEPSEEK_LETTERS), split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), split("\\s+$"),
        split(DEEPSEEK_CJK), split("\\p{N}+"), byte_level(False)]},
}


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    if len(f.data) == 1 and f.types[0] != gguf.GGUFValueType.ARRAY:
        v = f.parts[f.data[0]]
        if f.types[0] == gguf.GGUFValueType.STRING:
            return bytes(v).decode("utf-8")
        return v.tolist()[0]
    if f.types[-1] == gguf.GGUFValueType.STRING:
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    return [f.parts[i].tolist()[0] for i in f.data]


def spm_merges(tokens, types, scores):
    """transformers' SentencePieceExtractor: pairs whose concatenation is a
    piece, ordered by the merged piece's score (then the pair's ids)."""
    vocab = {}
    for i, t in enumerate(tokens):
        if types[i] in (NORMAL, USER_DEFINED) and t not in vocab:
            vocab[t] = i
    merges = []
    for merged, mid in vocab.items():
        chars = list(merged)
        for cut in range(1, len(chars)):
            left, right = "".join(chars[:cut]), "".join(chars[cut:])
            if left in vocab and right in vocab:
                merges.append((-scores[mid], vocab[left], vocab[right], left, right))
    merges.sort()
    return [[m[3], m[4]] for m in merges]


GEMMA_ARCHES = ("gemma", "gemma2", "gemma3")


def gemma_pipeline(tokens, types):
    """What transformers builds from a Gemma GGUF (integrations/gguf
    gemma_tokenizer + GemmaTokenizer, 5.25): tokens of only spaces respelled
    with "▁" (the file stores them as spaces), merges rebuilt from the
    vocabulary with the file order as priority (generate_merges with scores
    -index: earlier first, then the longer left piece), no dummy prefix
    (normalizer Replace " " -> "▁", Split on " " merged with the previous
    piece), byte fallback; control tokens added as special tokens and
    user-defined ones still in the vocabulary (newline runs, [multimodal]) as
    plain added tokens."""
    spelled = ["▁" * len(t) if " " in t and not t.strip() else t for t in tokens]
    vocab = {t: i for i, t in enumerate(spelled)}
    priority = {t: -i for i, t in enumerate(spelled)}
    merges = []
    for merged, score in priority.items():
        local = [(merged[:cut], merged[cut:], score) for cut in range(1, len(merged))
                 if merged[:cut] in vocab and merged[cut:] in vocab]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": types[i] == CONTROL}
             for i, t in enumerate(spelled) if types[i] in (CONTROL, USER_DEFINED) and vocab[t] == i]
    return {
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[m[0], m[1]] for m in merges]},
    }


def convert(gguf_path):
    reader = gguf.GGUFReader(gguf_path)
    model = field(reader, "tokenizer.ggml.model")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type") or [NORMAL] * len(tokens)
    pre = field(reader, "tokenizer.ggml.pre")
    arch = field(reader, "general.architecture")
    vocab, added = {}, []
    for i, t in enumerate(tokens):
        if t not in vocab:
            vocab[t] = i
        if types[i] in (CONTROL, USER_DEFINED, UNKNOWN) and vocab[t] == i:
            added.append({"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": types[i] != USER_DEFINED})
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "post_processor": None}
    if model == "gpt2":
        if pre not in PRE_TOKENIZERS:
            raise SystemExit(f"{gguf_path}: no HF pre-tokenizer known for tokenizer.ggml.pre={pre!r}")
        merges = [m.split(" ") for m in field(reader, "tokenizer.ggml.merges")]
        tok.update(normalizer=None, pre_tokenizer=PRE_TOKENIZERS[pre],
                   decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
                   model={"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                          "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                          "ignore_merges": False, "vocab": vocab, "merges": merges})
    elif model == "llama" and arch in GEMMA_ARCHES:
        tok.update(gemma_pipeline(tokens, types))
    elif model == "llama":
        scores = field(reader, "tokenizer.ggml.scores")
        unk = next((tokens[i] for i in range(len(tokens)) if types[i] == UNKNOWN), None)
        tok.update(
            normalizer={"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "▁"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
            pre_tokenizer=None,
            decoder={"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
                {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            model={"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                   "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                   "vocab": vocab, "merges": spm_merges(tokens, types, scores)})
    else:
        return None, f"tokenizer.ggml.model={model!r} has no BPE conversion"
    return tok, None


QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
LLAMA3_REGEX = QWEN2_REGEX.replace("|\\p{N}|", "|\\p{N}{1,3}|")


def variants(name, tok):
    """Pipelines of other model families on the same vocabulary, to cover the
    tokenizer.json features the GGUF vectors do not: Qwen2 (NFC, Split,
    ByteLevel without regex), Llama-3 (ignore_merges), Metaspace."""
    out = []
    if name == "gpt-2":
        for variant, regex, ignore in (("gpt-2-qwen2-style", QWEN2_REGEX, False),
                                       ("gpt-2-llama3-style", LLAMA3_REGEX, True)):
            v = json.loads(json.dumps(tok))
            v["normalizer"] = {"type": "NFC"}
            v["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [split(regex), byte_level(False)]}
            v["model"]["ignore_merges"] = ignore
            out.append((variant, v))
    if name == "llama-spm":
        v = json.loads(json.dumps(tok))
        v["normalizer"] = None
        v["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
        out.append(("llama-spm-metaspace", v))
    return out


def write(out_dir, tok):
    os.makedirs(out_dir, exist_ok=True)
    text = json.dumps(tok, ensure_ascii=False)
    Tokenizer.from_str(text)  # validates the file with HF tokenizers itself
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", default=DEFAULT_TESTDATA)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--gguf", help="convert this one GGUF file into --out/tokenizer.json instead (e.g. the "
                                   "Gemma 3 270M file the real-model test assembles)")
    args = ap.parse_args()
    if args.gguf:
        tok, why = convert(args.gguf)
        if tok is None:
            raise SystemExit(f"{args.gguf}: {why}")
        write(args.out, tok)
        print(f"{args.gguf}: {os.path.join(args.out, 'tokenizer.json')}")
        return 0
    for name in sorted(os.listdir(args.testdata)):
        path = os.path.join(args.testdata, name, "vocab.gguf")
        if not os.path.exists(path):
            continue
        tok, why = convert(path)
        if tok is None:
            print(f"{name}: skipped ({why})")
            continue
        out_dir = os.path.join(args.out, name)
        write(out_dir, tok)
        print(f"{name}: {os.path.join(out_dir, 'tokenizer.json')}")
        for variant, tok_variant in variants(name, tok):
            write(os.path.join(args.out, variant), tok_variant)
            print(f"{variant}: variant of {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
