#!/usr/bin/env python3
"""End-to-end `llmbed embed` job throughput and memory, plus `llmbed bench`.

Generates a seeded corpus of --lines JSONL lines (pre-tokenised ids of
lengths drawn log-uniformly from [--min-len, --max-len], each padded with an
ignored 200-byte field so the input is large), then runs `llmbed embed` on it
three ways and parses the summary line each prints:
  * one .npy output;
  * --shard-rows shards + manifest (the cost of atomic commits and CRCs);
  * the same from stdin (a pipe: no size, no seeking).
Then `llmbed bench` on fixed-length and mixed-length synthetic corpora, with
`--compare transformers` when --compare is given. Results (and the commands)
go to bench/results/embed_job_<date>.txt.

    python3 bench/bench_embed_job.py --llmbed build/release/llmbed \
        --model tests/data/models/llama-tiny --lines 100000 --threads 1
"""
import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_vocab(model):
    if model.endswith(".gguf"):
        return 100  # ids below every test vocabulary
    with open(os.path.join(model, "config.json")) as f:
        return json.load(f)["vocab_size"]


def write_corpus(path, lines, vocab, min_len, max_len, seed):
    rng = random.Random(seed)
    pad = "x" * 200
    tokens = 0
    with open(path, "w") as f:
        for _ in range(lines):
            n = int(round(math.exp(rng.uniform(math.log(min_len), math.log(max_len)))))
            tokens += n
            ids = ",".join(str(rng.randrange(vocab)) for _ in range(n))
            f.write('{"input_ids":[%s],"note":"%s"}\n' % (ids, pad))
    return tokens


def run(cmd, stdin=None):
    proc = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return proc


def summary(stderr):
    line = [l for l in stderr.splitlines() if l.startswith("llmbed: summary:")][-1]
    m = re.search(r"in ([\d.]+) s \(([\d.]+) tokens/s, ([\d.]+) sequences/s\), peak RSS ([\d.]+) MiB", line)
    return {"seconds": float(m[1]), "tokens_per_s": float(m[2]), "sequences_per_s": float(m[3]),
            "peak_rss_mib": float(m[4]), "line": line}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llmbed", default=os.path.join(ROOT, "build", "release", "llmbed"))
    p.add_argument("--model", default=os.path.join(ROOT, "tests", "data", "models", "llama-tiny"))
    p.add_argument("--lines", type=int, default=100000)
    p.add_argument("--min-len", type=int, default=4)
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--shard-rows", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--compare", action="store_true", help="also run llmbed bench --compare transformers")
    a = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="llmbed-bench-job-")
    out = []
    try:
        corpus = os.path.join(tmp, "in.jsonl")
        tokens = write_corpus(corpus, a.lines, model_vocab(a.model), a.min_len, a.max_len, a.seed)
        size_mb = os.path.getsize(corpus) / 1e6
        out.append(f"corpus: {a.lines} lines, {tokens} tokens, {size_mb:.1f} MB (lengths {a.min_len}..{a.max_len} "
                   f"log-uniform, seed {a.seed})")
        base = [a.llmbed, "embed", "--model", a.model, "--threads", str(a.threads), "--quiet"]
        runs = {
            "single .npy": base + ["--input", corpus, "--output", os.path.join(tmp, "one.npy")],
            f"shards of {a.shard_rows}": base + ["--input", corpus, "--output", os.path.join(tmp, "sh.npy"),
                                                 "--shard-rows", str(a.shard_rows)],
        }
        for name, cmd in runs.items():
            s = summary(run(cmd).stderr)
            out.append(f"embed {name}: {s['tokens_per_s']:.0f} tokens/s, {s['sequences_per_s']:.0f} sequences/s, "
                       f"{s['seconds']:.2f} s, peak RSS {s['peak_rss_mib']:.1f} MiB")
            out.append(f"  $ {' '.join(cmd)}")
        with open(corpus) as f:
            cmd = base + ["--input", "-", "--output", os.path.join(tmp, "pipe.npy")]
            s = summary(run(cmd, stdin=f).stderr)
        out.append(f"embed from stdin: {s['tokens_per_s']:.0f} tokens/s, peak RSS {s['peak_rss_mib']:.1f} MiB")
        for corpus_args in (["--tokens", "512", "--sequences", "16"], ["--mixed", "--sequences", "32"]):
            cmd = [a.llmbed, "bench", "--model", a.model, "--threads", str(a.threads)] + corpus_args
            if a.compare:
                cmd += ["--compare", "transformers", "--compare-script", os.path.join(ROOT, "bench", "compare_transformers.py")]
            text = run(cmd).stdout
            out.append(f"$ {' '.join(cmd)}")
            out.extend("  " + l for l in text.splitlines())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = [f"llmbed embed job benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}",
              f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model {a.model}; "
              f"threads {a.threads}"]
    text = "\n".join(header + out) + "\n"
    print(text, end="")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"embed_job_{datetime.date.today().isoformat()}.txt")
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
