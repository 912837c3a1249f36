#!/usr/bin/env python3
"""Accuracy (top-1) and nDCG@10 against document length per ThinK ratio and chunk size,
from the JSON of `llmbed eval needle --output FILE.json` (or eval passkey).

Usage: python3 bench/plot_needle.py RESULTS.json [OUT.png]   (needs matplotlib)
"""
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.splitext(path)[0] + ".png"
    report = json.load(open(path, encoding="utf-8"))
    series = defaultdict(list)
    for run in report["runs"]:
        series[(run["chunk_tokens"], run["think_ratio"])].append(
            (run["length"], run["accuracy"], run.get("ndcg_at_10", float("nan"))))
    chunks = sorted({c for c, _ in series})
    fig, axes = plt.subplots(1, len(chunks), figsize=(5 * len(chunks), 3.6), dpi=120, squeeze=False)
    for ax, chunk in zip(axes[0], chunks):
        for (c, ratio), points in sorted(series.items()):
            if c != chunk:
                continue
            points.sort()
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=f"ratio {ratio:g}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("document tokens")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(f"chunk {chunk}")
        ax.legend(fontsize=8)
    fig.suptitle(os.path.basename(report.get("model", "")), fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    print(out)


if __name__ == "__main__":
    main()
