#!/usr/bin/env python3
"""CPU throughput of llmbed against Hugging Face transformers (fp32, same thread count), in one run.

Builds a Qwen3-0.6B-shaped random model (28 layers, hidden 1024, 16 q / 8 kv heads, head_dim 128,
intermediate 3072; vocab 32000 by default, which only changes the embedding table), saves it as HF
safetensors under /tmp, then times on the same token ids:
  * fixed: sequences of 512 tokens;
  * mixed: lengths 16..2048 drawn log-uniformly from a seeded RNG. transformers gets the usual padded
    batching (batches of --hf-batch in input order, right-padded to the longest, attention mask),
    llmbed packs them without padding under its token budget.
llmbed runs in build-cpu/llmbed_cpu_bench --serve (a subprocess that keeps the model loaded),
transformers in this process with torch.set_num_threads; their runs alternate so that load changes on
a shared machine hit both. A warm-up pair, then the median of the timed runs.
The two embeddings (last token, L2-normalised) are compared by cosine. Results go to
bench/results/cpu_<date>.txt.

    python3 bench/bench_cpu_vs_transformers.py --bench build-cpu/llmbed_cpu_bench --threads 2
"""
import argparse
import datetime
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_model(path, vocab, layers):
    config_path = os.path.join(path, "config.json")
    if os.path.exists(config_path):
        with open(config_path) as f:
            cfg = json.load(f)
        if cfg.get("vocab_size") == vocab and cfg.get("num_hidden_layers") == layers:
            return
    torch.manual_seed(0)
    config = Qwen3Config(hidden_size=1024, num_hidden_layers=layers, num_attention_heads=16, num_key_value_heads=8,
                         head_dim=128, intermediate_size=3072, vocab_size=vocab, max_position_embeddings=40960,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, torch_dtype="float32")
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)


def corpora(vocab, fixed_n, mixed_n, seed):
    rng = random.Random(seed)
    fixed = [[rng.randrange(vocab) for _ in range(512)] for _ in range(fixed_n)]
    lengths = [int(round(math.exp(rng.uniform(math.log(16), math.log(2048))))) for _ in range(mixed_n)]
    mixed = [[rng.randrange(vocab) for _ in range(n)] for n in lengths]
    return fixed, mixed


class Llmbed:
    """llmbed_cpu_bench --serve: loads the model once, then one timed run per request."""

    def __init__(self, bench, model_path, corpora, threads, batch_tokens, tmp):
        self.tmp = tmp
        cmd = [bench, "--model", model_path, "--threads", str(threads), "--batch-tokens", str(batch_tokens),
               "--pooling", "last", "--output", os.path.join(tmp, "emb"), "--serve"]
        for i, seqs in enumerate(corpora):
            path = os.path.join(tmp, f"ids{i}.txt")
            with open(path, "w") as f:
                for s in seqs:
                    f.write(" ".join(map(str, s)) + "\n")
            cmd += ["--input", path]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("llmbed_cpu_bench did not start: " + " ".join(cmd))

    def run(self, corpus):
        self.proc.stdin.write(f"{corpus}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("llmbed_cpu_bench failed")
        return json.loads(line)["seconds"]

    def embeddings(self, corpus, n):
        return np.fromfile(os.path.join(self.tmp, f"emb{corpus}.f32"), dtype=np.float32).reshape(n, -1)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def hf_embed(model, seqs, batch_size):
    out = []
    for b in range(0, len(seqs), batch_size):
        batch = seqs[b:b + batch_size]
        longest = max(len(s) for s in batch)
        ids = torch.zeros((len(batch), longest), dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for i, s in enumerate(batch):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        last = torch.stack([hidden[i, len(s) - 1] for i, s in enumerate(batch)])
        out.append(torch.nn.functional.normalize(last, dim=-1))
    return torch.cat(out).numpy()


def compare(llmbed, corpus, hf, seqs, batch_size, warmup, repeats):
    """Alternates llmbed and transformers runs of one corpus: warm-up pairs, then timed pairs."""
    lb_times, hf_times = [], []
    with torch.inference_mode():
        for r in range(warmup + repeats):
            lb = llmbed.run(corpus)
            t0 = time.perf_counter()
            emb = hf_embed(hf, seqs, batch_size)
            th = time.perf_counter() - t0
            if r >= warmup:
                lb_times.append(lb)
                hf_times.append(th)
    n_tokens = sum(len(s) for s in seqs)
    padded = sum(len(seqs[b:b + batch_size]) * max(len(s) for s in seqs[b:b + batch_size])
                 for b in range(0, len(seqs), batch_size))

    def stats(times):
        return {"median_s": float(np.median(times)), "min_s": min(times), "max_s": max(times),
                "tokens_per_s": n_tokens / float(np.median(times)), "runs": times}

    pair_ratios = [h / l for l, h in zip(lb_times, hf_times)]
    return stats(lb_times), stats(hf_times), padded, float(np.median(pair_ratios)), emb


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build-cpu", "llmbed_cpu_bench"))
    ap.add_argument("--model-dir", default="/tmp/llmbed_bench_qwen3_0.6b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--layers", type=int, default=28)
    ap.add_argument("--fixed", type=int, default=2, help="number of 512-token sequences")
    ap.add_argument("--mixed", type=int, default=12, help="number of mixed-length sequences")
    ap.add_argument("--hf-batch", type=int, default=4)
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mixed-repeats", type=int, default=3)
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    started = time.time()
    build_model(args.model_dir, args.vocab, args.layers)
    fixed, mixed = corpora(args.vocab, args.fixed, args.mixed, args.seed)
    hf = Qwen3ForCausalLM.from_pretrained(args.model_dir, torch_dtype=torch.float32,
                                          attn_implementation=args.attn).model.eval()

    rows = []
    runs = (("fixed-512", fixed, 1, args.repeats), ("mixed-16..2048", mixed, 0, args.mixed_repeats))
    with tempfile.TemporaryDirectory() as tmp:
        llmbed = Llmbed(args.bench, args.model_dir, [fixed, mixed], args.threads, args.batch_tokens, tmp)
        for corpus, (name, seqs, warmup, repeats) in enumerate(runs):
            lb, th, padded, pair_ratio, hf_emb = compare(llmbed, corpus, hf, seqs, args.hf_batch, warmup, repeats)
            a = llmbed.embeddings(corpus, len(seqs)).astype(np.float64)
            b = hf_emb.astype(np.float64)
            cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            dev = float(np.max(np.abs(1.0 - cos)))
            rows.append((name, seqs, lb, th, padded, pair_ratio, dev, repeats))
            print(f"{name}: llmbed {lb['tokens_per_s']:.1f} tok/s, transformers {th['tokens_per_s']:.1f} tok/s, "
                  f"ratio {lb['tokens_per_s'] / th['tokens_per_s']:.2f} (paired {pair_ratio:.2f}), "
                  f"max |1 - cosine| {dev:.2e}", flush=True)
        llmbed.close()

    date = datetime.datetime.now().strftime("%Y-%m-%d")
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, f"cpu_{date}.txt")
    with open(path, "w") as f:
        f.write(f"# llmbed CPU backend vs Hugging Face transformers {__import__('transformers').__version__} "
                f"(torch {torch.__version__}, fp32, attn_implementation={args.attn}, inference_mode)\n")
        f.write(f"command: python3 {' '.join(sys.argv)}\n")
        f.write(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n")
        f.write(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; load average at end "
                f"{os.getloadavg()[0]:.2f} (the machine is shared: timings are noisy)\n")
        f.write(f"threads: {args.threads} (llmbed --threads, torch.set_num_threads)\n")
        f.write(f"model: Qwen3-0.6B shape, {args.layers} layers, hidden 1024, 16/8 heads x 128, intermediate 3072, "
                f"vocab {args.vocab}, random weights (seed 0), fp32\n")
        f.write(f"llmbed: one llmbed_embed per corpus, packed varlen, batch_tokens {args.batch_tokens}, last-token "
                f"pooling; transformers: batches of {args.hf_batch} in input order, right-padded, attention mask\n")
        f.write("timing: llmbed and transformers runs alternate (llmbed_cpu_bench --serve keeps the model loaded);\n"
                "  fixed: 1 warm-up pair then the timed pairs; mixed: timed pairs only (both sides are warm from\n"
                "  the fixed corpus). Wall clock per whole corpus; median over the repeats; 'paired' is the\n"
                "  median of the per-pair ratios, and 'fastest runs' the ratio of the two minima: both are less\n"
                "  sensitive to other processes' load than the ratio of medians.\n\n")
        for name, seqs, lb, th, padded, pair_ratio, dev, repeats in rows:
            lengths = [len(s) for s in seqs]
            f.write(f"[{name}] {len(seqs)} sequences, {sum(lengths)} tokens (lengths {min(lengths)}..{max(lengths)}), "
                    f"transformers padded tokens {padded}\n")
            f.write(f"  llmbed       {lb['tokens_per_s']:9.1f} tok/s  median {lb['median_s']:.3f} s  "
                    f"(min {lb['min_s']:.3f}, max {lb['max_s']:.3f}, {repeats} repeats)\n")
            f.write(f"  transformers {th['tokens_per_s']:9.1f} tok/s  median {th['median_s']:.3f} s  "
                    f"(min {th['min_s']:.3f}, max {th['max_s']:.3f})\n")
            f.write(f"  runs (s, in order): llmbed {' '.join(f'{t:.2f}' for t in lb['runs'])}; "
                    f"transformers {' '.join(f'{t:.2f}' for t in th['runs'])}\n")
            f.write(f"  ratio llmbed / transformers: {lb['tokens_per_s'] / th['tokens_per_s']:.2f}x "
                    f"(paired {pair_ratio:.2f}x, fastest runs {th['min_s'] / lb['min_s']:.2f}x); "
                    f"max |1 - cosine| between the two embeddings: {dev:.2e}\n\n")
        f.write(f"total bench wall time: {time.time() - started:.0f} s\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
