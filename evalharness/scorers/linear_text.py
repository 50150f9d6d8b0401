"""What the shipped text classifiers share (`injection_model.py`, `refusal_model.py`): scikit-learn's
word n-grams, the TF-IDF (sublinear tf, L2 norm) dot product with a block's coefficients, the logistic
function, and reading a gzipped JSON bundle from `scorers/data/` through importlib.resources. Pure
Python: neither scikit-learn nor numpy is needed at run time."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from importlib import resources
from typing import Any, Iterable

__all__ = ["read_data_bundle", "sigmoid", "tfidf_dot", "word_ngrams"]


def word_ngrams(tokens: list[str], lo: int, hi: int) -> list[str]:
    """scikit-learn's `_word_ngrams` without stop words: all n from lo to hi, joined by one space."""
    out = list(tokens) if lo == 1 else []
    n_tokens = len(tokens)
    for n in range(max(lo, 2), min(hi, n_tokens) + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(n_tokens - n + 1))
    return out


def tfidf_dot(grams: Iterable[str], table: dict[str, tuple[float, float]]) -> float:
    """dot(l2_normalise(tfidf(grams)), coef) for `table` term -> (idf, coef); terms outside it weigh nothing."""
    dot = sq = 0.0
    for term, count in Counter(grams).items():
        entry = table.get(term)
        if entry is None:
            continue
        weight = (1.0 + math.log(count)) * entry[0]  # sublinear tf times idf
        dot += weight * entry[1]
        sq += weight * weight
    return dot / math.sqrt(sq) if sq > 0.0 else 0.0


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def read_data_bundle(file: str) -> dict[str, Any]:
    """A shipped model file from `scorers/data/`, read through importlib.resources (a wheel or a zip too)."""
    data = resources.files("evalharness.scorers").joinpath("data", file).read_bytes()
    return json.loads(gzip.decompress(data))
