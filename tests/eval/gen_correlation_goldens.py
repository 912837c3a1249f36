#!/usr/bin/env python3
"""Goldens for llmbed's Spearman/Pearson (tests/cpu/test_eval_sts.cpp).

Writes tests/data/sts/correlation.json: vectors (with many ties, as STS gold
scores have) and scipy.stats' spearmanr (average ranks for ties) and
pearsonr on them; and tests/data/sts/small.tsv, a 12-pair file in the
score<TAB>s1<TAB>s2 format with tied scores, whose gold column is case 0's x.

Usage: python3 tests/eval/gen_correlation_goldens.py   (numpy, scipy)
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "sts")

SENTENCES = [
    ("A man is playing a guitar.", "A man plays the guitar."),
    ("A woman is slicing an onion.", "A woman cuts an onion."),
    ("Two dogs run in the snow.", "A cat sleeps on a sofa."),
    ("The stock market fell sharply.", "Shares dropped steeply today."),
    ("A child is riding a bike.", "A kid rides a bicycle."),
    ("Café prices rose in Zürich.", "Prices at cafés went up in Zurich."),
    ("The sun is shining.", "It is raining heavily."),
    ("He is reading a book.", "A man reads a novel."),
    ("日本の首都は東京です。", "Tokyo is the capital of Japan."),
    ("A plane is taking off.", "An airplane departs."),
    ("Nobody is dancing.", "People are dancing."),
    ("The cat chased the mouse.", "The mouse was chased by the cat."),
]


def main():
    rng = np.random.default_rng(14)
    gold = [4.4, 4.0, 0.2, 3.6, 4.4, 4.0, 0.8, 2.5, 3.0, 4.4, 1.2, 5.0]
    cases = [
        {"name": "small.tsv gold vs fixed predictions",
         "x": gold, "y": [0.91, 0.88, 0.12, 0.70, 0.95, 0.80, 0.30, 0.55, 0.40, 0.88, 0.35, 0.99]},
        {"name": "integer scores, heavy ties both sides",
         "x": rng.integers(0, 6, 40).astype(float).tolist(), "y": rng.integers(0, 4, 40).astype(float).tolist()},
        {"name": "random floats", "x": rng.normal(size=101).tolist(), "y": rng.normal(size=101).tolist()},
        {"name": "anti-correlated with ties", "x": [1, 2, 2, 3, 4, 4, 4, 5], "y": [9, 7, 7, 5, 3, 3, 4, 1]},
        {"name": "two points", "x": [0.0, 1.0], "y": [3.0, 2.0]},
        {"name": "constant y", "x": [1.0, 2.0, 3.0], "y": [5.0, 5.0, 5.0]},
    ]
    for c in cases:
        rho = stats.spearmanr(c["x"], c["y"]).statistic
        r = stats.pearsonr(c["x"], c["y"]).statistic if len(set(c["y"])) > 1 and len(set(c["x"])) > 1 else float("nan")
        c["spearman"] = None if np.isnan(rho) else float(rho)
        c["pearson"] = None if np.isnan(r) else float(r)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "correlation.json"), "w", encoding="utf-8") as f:
        json.dump({"source": f"scipy {scipy.__version__} stats.spearmanr / stats.pearsonr", "cases": cases}, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "small.tsv"), "w", encoding="utf-8") as f:
        for score, (a, b) in zip(gold, SENTENCES):
            f.write(f"{score}\t{a}\t{b}\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
