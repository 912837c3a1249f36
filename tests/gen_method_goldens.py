#!/usr/bin/env python3
"""Generates the tiny model with a tokenizer and the per-method goldens of
issue 14 (tests/cpu/test_method_goldens.cpp, tests/emu/test_methods_emu.cpp).

Run from the repository root (offline, CPU only, a few seconds):

    python3 tests/gen_method_goldens.py

What it writes:
  tests/data/models/methods-tiny/{config.json,model.safetensors,tokenizer.json}:
      a 2-layer Llama (hidden 32, GQA 4/2) with seeded random weights
      (golden_lib/build_models.py) and a byte-level BPE tokenizer trained
      here with HF tokenizers on a fixed corpus (ByteLevel regex split, BOS
      "<s>" added by TemplateProcessing, so spans must skip a special token).
  tests/data/goldens/methods-tiny/methods.json: for every case (a method,
      or its parts: template, pool span, pooling, attention, attention
      temperature, early-exit layer) and text: the token ids of the
      templated string, the pooled token range and the pooled embedding
      (float64, not normalised).
      - Tokens and spans: HF tokenizers' own encoding and offsets of the
        rendered template; a token is pooled when its character range
        overlaps the (last) copy of the text (host/template/template.h).
      - Embeddings: transformers' eager Llama in float64 (golden_lib/
        hf_float64.py patches), the attention temperature T applied as
        scaling / T in every layer, cross-checked against the independent
        numpy forward (golden_lib/reference.py) run with W_q / T (q . k / T
        equals (q / T) . k, and RoPE is linear); the run stops when they
        differ by more than 1e-10.
      - "sts": Spearman/Pearson x100 of tests/data/sts/small.tsv for some
        methods, from the same float64 embeddings (scipy), for the
        `llmbed eval sts` end-to-end test. The cosines' ranks are checked to
        be far enough apart (1e-5) that fp32 rounding cannot swap them.

Needs torch, transformers 5.x, safetensors, numpy, scipy, tokenizers.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

from golden_lib import build_models, hf_float64, reference  # noqa: E402

DATA = os.path.join(HERE, "data")
MODEL_DIR = os.path.join(DATA, "models", "methods-tiny")
OUT = os.path.join(DATA, "goldens", "methods-tiny", "methods.json")
REFERENCE_TOLERANCE = 1e-10

CORPUS = [
    "Rewrite the sentence: A man is playing a guitar.\nRewritten sentence: A man is playing a guitar.",
    'This sentence: "Two dogs run in the snow." means in one word:"',
    "Query: what is the capital of Japan? -- end",
    "A woman is slicing an onion. The cat sleeps on the sofa. Prices rose in Zurich.",
    "the quick brown fox jumps over the lazy dog 0123456789",
] * 4

ECHO = "Rewrite the sentence: {text}\nRewritten sentence: {text}"
PROMPTEOL = 'This sentence: "{text}" means in one word:"'

# (name, template, pool_span, pooling, attention, temperature, layer)
CASES = [
    ("mean", None, "all", "mean", "causal", 1.0, 0),
    ("last", None, "all", "last", "causal", 1.0, 0),
    ("echo", ECHO, "last-text", "mean", "causal", 1.0, 0),
    ("prompteol", PROMPTEOL, "all", "last", "causal", 1.0, 0),
    ("tempscale T=0.5", None, "all", "mean", "causal", 0.5, 0),
    ("tempscale T=3 + prompteol", PROMPTEOL, "all", "last", "causal", 3.0, 0),
    ("early exit: echo at layer 1", ECHO, "last-text", "mean", "causal", 1.0, 1),
    ("first copy of echo (span ends early)", ECHO, "text", "mean", "causal", 1.0, 0),
    ("text span, weighted mean, literal after", "Query: {text} -- end", "text", "weighted-mean", "causal", 1.0, 0),
    ("text span, first token (skips BOS)", "{text}", "text", "first", "causal", 1.0, 0),
    ("prompteol bidirectional", PROMPTEOL, "all", "last", "bidirectional", 1.0, 0),
    ("echo bidirectional, T=2", ECHO, "last-text", "mean", "bidirectional", 2.0, 0),
]
TEXTS = ["A man is playing a guitar.", "Zürich café: naïve 日本語 🤗!", "Two dogs run."]
STS_METHODS = ["mean", "echo", "prompteol"]


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def spec(vocab):
    return dict(name="methods-tiny", model_type="llama", save_as="causal_lm",
                config=dict(hidden_size=32, num_attention_heads=4, head_dim=8, num_key_value_heads=2,
                            intermediate_size=40, num_hidden_layers=2, vocab_size=vocab,
                            max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=True,
                            rope_parameters=dict(rope_type="default", rope_theta=10000.0)))


def render(template, text):
    if template is None:
        template = "{text}"
    pieces = template.split("{text}")
    out, starts = pieces[0], []
    for piece in pieces[1:]:
        starts.append(len(out))
        out += text + piece
    return out, starts


def tokens_and_span(tok, template, span, text):
    rendered, starts = render(template, text)
    enc = tok.encode(rendered)
    if span == "all":
        return enc.ids, 0, len(enc.ids)
    a = starts[0] if span == "text" else starts[-1]
    b = a + len(text)
    inside = [i for i, (s, e) in enumerate(enc.offsets) if s < b and a < e and e > s]
    return enc.ids, inside[0], inside[-1] + 1


def pool(rows, kind):
    if kind == "last":
        return rows[-1]
    if kind == "first":
        return rows[0]
    if kind == "mean":
        return rows.mean(0)
    w = np.arange(1, len(rows) + 1, dtype=np.float64)
    return (w[:, None] * rows).sum(0) / w.sum()


class Forward:
    """Float64 hidden states with an attention temperature, two ways."""

    def __init__(self):
        self.model = hf_float64.load_float64(MODEL_DIR)
        self.cfg, self.weights = reference.load_folder(MODEL_DIR)
        self.base_scaling = [layer.self_attn.scaling for layer in self.model.layers]
        self.worst = 0.0

    def hidden(self, ids, bidirectional, temperature, layer):
        for module, scaling in zip(self.model.layers, self.base_scaling):
            module.self_attn.scaling = scaling / temperature
        early_layer = layer if layer else self.cfg["n_layers"]
        final, early = hf_float64.run(self.model, ids, bidirectional, early_layer)
        ours = final if not layer else early
        scaled = {k: (v.astype(np.float64) / temperature if k.endswith("q_proj.weight") else v)
                  for k, v in self.weights.items()}
        ref_final, ref_early = reference.forward(self.cfg, scaled, ids, bidirectional, early_layer)
        theirs = ref_final if not layer else ref_early
        err = float(np.abs(ours - theirs).max())
        self.worst = max(self.worst, err)
        if err > REFERENCE_TOLERANCE:
            raise SystemExit(f"transformers and numpy differ by {err:g} (T={temperature}, layer={layer})")
        return ours


def sts_results(tok, fwd):
    path = os.path.join(DATA, "sts", "small.tsv")
    gold, pairs = [], []
    for line in open(path, encoding="utf-8"):
        score, a, b = line.rstrip("\n").split("\t")
        gold.append(float(score))
        pairs.append((a, b))
    methods = {name: c for c in CASES for name in [c[0]] if name in STS_METHODS}
    out = {}
    for name in STS_METHODS:
        _, template, span, pooling, attention, temperature, layer = methods[name]

        def embed(text):
            ids, begin, end = tokens_and_span(tok, template, span, text)
            return pool(fwd.hidden(ids, attention == "bidirectional", temperature, layer)[begin:end], pooling)

        cos = []
        for a, b in pairs:
            u, v = embed(a), embed(b)
            cos.append(float(u @ v / np.sqrt((u @ u) * (v @ v))))
        gaps = np.diff(np.sort(cos))
        if gaps.min() < 1e-5:
            raise SystemExit(f"sts {name}: two cosines within {gaps.min():g}; ranks would be fragile")
        out[name] = {"spearman": 100 * float(stats.spearmanr(gold, cos).statistic),
                     "pearson": 100 * float(stats.pearsonr(gold, cos).statistic), "pairs": len(pairs)}
    return out


def main():
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    tok = build_tokenizer()
    vocab = tok.get_vocab_size()
    build_models.build_model(spec(vocab), MODEL_DIR)
    tok.save(os.path.join(MODEL_DIR, "tokenizer.json"))
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    hf_float64.patch_transformers()
    fwd = Forward()
    cases = []
    for name, template, span, pooling, attention, temperature, layer in CASES:
        for text in TEXTS:
            ids, begin, end = tokens_and_span(tok, template, span, text)
            hidden = fwd.hidden(ids, attention == "bidirectional", temperature, layer)
            vec = pool(hidden[begin:end], pooling)
            cases.append(dict(name=name, template=template, pool_span=span, pooling=pooling, attention=attention,
                              attention_temperature=temperature, layer=layer, text=text, ids=ids,
                              pool_begin=begin, pool_end=end, embedding=[float(v) for v in vec]))
    # The goldens must tell the variants apart.
    by = {(c["name"], c["text"]): np.array(c["embedding"]) for c in cases}
    for a, b in [("mean", "tempscale T=0.5"), ("echo", "early exit: echo at layer 1"),
                 ("echo", "first copy of echo (span ends early)"), ("prompteol", "prompteol bidirectional")]:
        if np.abs(by[(a, TEXTS[0])] - by[(b, TEXTS[0])]).max() < 1e-3:
            raise SystemExit(f"{a} and {b} give the same embedding")
    sts = sts_results(tok, fwd)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(dict(model_path="models/methods-tiny", hidden_size=32, source=(
            "HF tokenizers offsets + transformers eager float64 (scaling / T), numpy cross-check "
            f"max |diff| {fwd.worst:.1e}"), cases=cases, sts=dict(file="sts/small.tsv", results=sts)),
            f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"methods-tiny: vocab {vocab}, {len(cases)} cases, transformers vs numpy max |diff| {fwd.worst:.2e}; "
          f"sts {sts}")


if __name__ == "__main__":
    main()
