#!/usr/bin/env python3
"""Loss curve of a `python -m llmbed.train contrastive` run: train_log.jsonl -> PNG.

Usage: python3 examples/plot_train_log.py ADAPTER_DIR [OUT.png]   (needs matplotlib)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    folder = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(folder, "loss.png")
    rows = [json.loads(line) for line in open(os.path.join(folder, "train_log.jsonl"), encoding="utf-8")]
    steps = [r["step"] for r in rows]
    losses = [r["loss"] for r in rows]
    window = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(steps, losses, lw=0.8, alpha=0.4, label="loss per step")
    ax.plot(steps, smooth, lw=1.6, label=f"mean of {window}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title(os.path.basename(os.path.normpath(folder)))
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    print(out)


if __name__ == "__main__":
    main()
