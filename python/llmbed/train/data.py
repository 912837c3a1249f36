"""Training triples (anchor, positive, optional hard negative) from JSONL or STS files.

JSONL: one object per line with string fields ``"anchor"`` and ``"positive"``
and an optional ``"negative"``.

STS/SICK (``score<TAB>sentence1<TAB>sentence2``, as ../shared/testdata/sts):
pairs with a gold score >= ``positive_min`` are positives, in both
orientations (the relation is symmetric). A hard negative for an anchor is
the sentence of the same file, taken from a pair scored <= ``negative_max``,
with the highest word overlap (Jaccard over lower-cased word sets) with the
anchor: text that looks like the anchor but was judged to mean something
else (SimCSE's contradiction hypotheses play that role for NLI data).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Triple:
    anchor: str
    positive: str
    negative: Optional[str] = None


class DataError(ValueError):
    """A malformed training file: the message names the file and line."""


def _words(text: str) -> frozenset:
    return frozenset(w.lower() for w in _WORD.findall(text))


def _jaccard(a: frozenset, b: frozenset) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def read_jsonl(path: str) -> List[Triple]:
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{number}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            for key in ("anchor", "positive"):
                if not isinstance(row.get(key), str) or not row[key]:
                    raise DataError(f"{path}:{number}: field \"{key}\" must be a non-empty string")
            negative = row.get("negative")
            if negative is not None and (not isinstance(negative, str) or not negative):
                raise DataError(f"{path}:{number}: field \"negative\" must be a non-empty string or absent")
            out.append(Triple(row["anchor"], row["positive"], negative))
    return out


def read_sts(path: str):
    """[(score, sentence1, sentence2)] of a score<TAB>s1<TAB>s2 file."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise DataError(f"{path}:{number}: expected score<TAB>sentence1<TAB>sentence2, got {len(parts)} fields")
            try:
                score = float(parts[0])
            except ValueError:
                raise DataError(f"{path}:{number}: score '{parts[0]}' is not a number") from None
            rows.append((score, parts[1], parts[2]))
    return rows


def sts_triples(path: str, positive_min: float, negative_max: float, hard_negatives: bool) -> List[Triple]:
    rows = read_sts(path)
    low = sorted({s for score, a, b in rows if score <= negative_max for s in (a, b)})
    low_words = [(s, _words(s)) for s in low]
    cache: Dict[str, Optional[str]] = {}

    def negative_for(anchor: str, positive: str) -> Optional[str]:
        if not hard_negatives:
            return None
        if anchor not in cache:
            words = _words(anchor)
            best, best_score = None, -1.0
            for s, w in low_words:  # sorted: ties go to the lexicographically first sentence
                score = _jaccard(words, w)
                if s != anchor and score > best_score:
                    best, best_score = s, score
            cache[anchor] = best
        negative = cache[anchor]
        return None if negative == positive else negative

    out = []
    for score, a, b in rows:
        if score < positive_min or a == b:
            continue
        out.append(Triple(a, b, negative_for(a, b)))
        out.append(Triple(b, a, negative_for(b, a)))
    return out


def load(paths: Sequence[str], positive_min: float = 4.0, negative_max: float = 2.0,
         hard_negatives: bool = True) -> List[Triple]:
    """Triples of every file in order: .jsonl as given, anything else as an STS file."""
    out: List[Triple] = []
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file")
        if path.endswith(".jsonl"):
            triples = read_jsonl(path)
            if not hard_negatives:
                triples = [Triple(t.anchor, t.positive) for t in triples]
        else:
            triples = sts_triples(path, positive_min, negative_max, hard_negatives)
        if not triples:
            raise DataError(f"{path}: no training pairs (STS files: no pair scored >= {positive_min})")
        out.extend(triples)
    return out
