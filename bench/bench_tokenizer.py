#!/usr/bin/env python3
"""Tokenizer throughput: llmbed vs Hugging Face tokenizers (Rust, batch API).

Encodes the same generated corpus (tests/tokenizer/corpus.py, valid UTF-8,
one document per line) with llmbed (llmbed_tokenizer_bench, pthreads) and
HF `Tokenizer.encode_batch` (rayon; RAYON_NUM_THREADS set per run in a
subprocess), single-threaded and with all cores, on tokenizer.json files
written by tests/tokenizer/gguf_to_hf.py. Reports MB/s, tokens/s (median of
REPEATS timed passes after one warm-up pass) and the llmbed/HF ratio, and
writes the table and the command to bench/results/tokenizer_<date>.txt.

Usage: python3 bench/bench_tokenizer.py --bench BUILD/llmbed_tokenizer_bench [--docs N] [--repeats R]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tokenizer"))
from corpus import make_corpus  # noqa: E402
from gguf_to_hf import DEFAULT_OUT  # noqa: E402


def hf_worker(path, corpus, repeats):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    with open(corpus, encoding="utf-8") as f:
        docs = f.read().split("\n")[:-1]
    tok.encode_batch(docs)  # warm-up
    times, tokens = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        out = tok.encode_batch(docs)
        times.append(time.perf_counter() - start)
        tokens = sum(len(e.ids) for e in out)
    print(json.dumps({"tokens": tokens, "seconds_median": statistics.median(times)}))


def run_hf(path, corpus, repeats, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, __file__, "--hf-worker", path, corpus, str(repeats)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_llmbed(bench, path, corpus, repeats, threads):
    out = subprocess.run([bench, "bench", path, corpus, str(threads), str(repeats)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--hf-worker":
        return hf_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--vocabs", default="gpt-2,starcoder,llama-spm")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    docs = [d.decode("utf-8").replace("\n", " ").replace("\r", " ").replace("\x85", " ").replace("\u2028", " ")
            .replace("\u2029", " ").replace("\x0b", " ").replace("\x0c", " ").replace("\x1c", " ")
            .replace("\x1d", " ").replace("\x1e", " ") for d in make_corpus(args.docs, seed=7, invalid=False)]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8", newline="\n") as f:
            for d in docs:
                f.write(d + "\n")
        mb = os.path.getsize(corpus) / 1e6
        header = (f"corpus: {len(docs)} docs, {mb:.2f} MB (tests/tokenizer/corpus.py seed 7); "
                  f"median of {args.repeats} passes after 1 warm-up; {cores} cores; {platform.processor() or platform.machine()}")
        lines.append(header)
        lines.append(f"{'vocab':12s} {'threads':>7s} {'llmbed MB/s':>12s} {'HF MB/s':>9s} {'llmbed tok/s':>13s} "
                     f"{'HF tok/s':>11s} {'ratio':>6s} {'tokens eq':>9s}")
        for name in args.vocabs.split(","):
            path = os.path.join(DEFAULT_OUT, name, "tokenizer.json")
            for threads in sorted({1, cores}):
                ours = run_llmbed(args.bench, path, corpus, args.repeats, threads)
                hf = run_hf(path, corpus, args.repeats, threads)
                ratio = hf["seconds_median"] / ours["seconds_median"]
                lines.append(f"{name:12s} {threads:7d} {mb / ours['seconds_median']:12.2f} "
                             f"{mb / hf['seconds_median']:9.2f} {ours['tokens'] / ours['seconds_median']:13.0f} "
                             f"{hf['tokens'] / hf['seconds_median']:11.0f} {ratio:6.2f} "
                             f"{str(ours['tokens'] == hf['tokens']):>9s}")
                print(lines[-1], flush=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"tokenizer_{datetime.date.today().isoformat()}.txt")
    with open(path, "w") as f:
        f.write("command: python3 bench/bench_tokenizer.py " + " ".join(sys.argv[1:]) + "\n")
        f.write("\n".join(lines) + "\n")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
