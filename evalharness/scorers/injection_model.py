"""Trained prompt-injection classifier: TF-IDF word and character n-grams, logistic regression.

Trained with scikit-learn on the s-labs prompt-injection corpus (train split, MIT; see
`data/LICENSES.md`) by `benchmarks/train_injection.py`, which also picks the cut on the validation
split and measures it in `benchmarks/injection_eval.py`. The fitted model ships inside the package
as data (`data/injection_model.json.gz`), and the inference below is pure Python: it reproduces
scikit-learn's `TfidfVectorizer` (lower-casing, `(?u)\\b\\w\\w+\\b` word tokens, `char_wb` n-grams,
sublinear tf, smoothed idf, L2 norm per block) and `LogisticRegression.decision_function`, so
evalharness does not depend on scikit-learn or numpy. tests/scorers/test_injection_model.py checks
the two agree.

As a scorer (and so as a guard rail) it passes when the text is not an injection. The score value
is the probability that the text is benign, so the generic `threshold:` key of a scorer entry
overrides the shipped cut: `threshold: 0.9` passes only text the model is at least 90% sure is
benign. With `combine_heuristic` (the default) the `injection` heuristic is consulted too, and
either one firing fails the text (value 0).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import Field

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer
from evalharness.scorers.injection import InjectionArgs, injection_score
from evalharness.scorers.linear_text import read_data_bundle, sigmoid, tfidf_dot, word_ngrams

MODEL_FILE = "injection_model.json.gz"
_HEURISTIC_CUT = InjectionArgs.model_fields["sensitivity"].default  # the `injection` scorer's default
FORMAT = "evalharness-injection-tfidf-lr/1"
_WORD_CACHE = 50_000  # distinct words whose known char n-grams are cached (about 10 MB at most)


_word_ngrams = word_ngrams  # the name the tests and the trainer know


def _char_wb_word(word: str, lo: int, hi: int) -> list[str]:
    """scikit-learn's `_char_wb_ngrams` for one word: n-grams of the word padded with one space each
    side; a padded word no longer than n counts once, as itself, and ends the n loop."""
    w = f" {word} "
    size = len(w)
    out: list[str] = []
    for n in range(lo, hi + 1):
        if size <= n:
            out.append(w)
            break
        out.extend(w[i:i + n] for i in range(size - n + 1))
    return out


def _char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """scikit-learn's `_char_wb_ngrams` over whitespace-separated words. (scikit-learn first squeezes
    runs of whitespace into one space; `str.split()` makes that a no-op here.)"""
    out: list[str] = []
    for word in text.split():
        out.extend(_char_wb_word(word, lo, hi))
    return out


class _Block:
    """One TF-IDF vectoriser and its slice of the coefficients, merged into term -> (idf, coef)."""

    def __init__(self, spec: dict[str, Any]):
        terms, idf, coef = spec["terms"], spec["idf"], spec["coef"]
        if not len(terms) == len(idf) == len(coef) or len(set(terms)) != len(terms):
            raise ValueError("injection model: a block's terms, idf and coef differ in length or repeat a term")
        self.lo, self.hi = (int(x) for x in spec["ngram_range"])
        self.table: dict[str, tuple[float, float]] = {t: (float(i), float(c)) for t, i, c in zip(terms, idf, coef)}
        self._known: dict[str, tuple[str, ...]] = {}  # word -> its char_wb n-grams that are in the table

    def known_char_wb(self, text: str) -> list[str]:
        """`_char_wb_ngrams(text)` without the n-grams outside the table (they weigh nothing), with a
        per-word cache: words repeat, and generating n-grams is most of the cost of a long text."""
        known, table, out = self._known, self.table, []
        for word in text.split():
            grams = known.get(word)
            if grams is None:
                grams = tuple(g for g in _char_wb_word(word, self.lo, self.hi) if g in table)
                if len(known) < _WORD_CACHE:
                    known[word] = grams
            out.extend(grams)
        return out

    def contribution(self, grams: list[str]) -> float:
        """dot(l2_normalise(tfidf(grams)), coef): n-grams outside the table weigh nothing."""
        return tfidf_dot(grams, self.table)


class InjectionModel:
    """The shipped classifier. `margin` equals scikit-learn's `decision_function`."""

    def __init__(self, bundle: dict[str, Any]):
        if bundle.get("format") != FORMAT:
            raise ValueError(f"injection model: unknown format {bundle.get('format')!r} (expected {FORMAT!r})")
        self.token_rx = re.compile(bundle["word"]["token_pattern"])
        self.word = _Block(bundle["word"])
        self.char = _Block(bundle["char_wb"])
        self.intercept = float(bundle["intercept"])
        self.threshold_margin = float(bundle["threshold"]["margin"])
        self.threshold = sigmoid(self.threshold_margin)  # P(injection) at or above which text is flagged

    def margin(self, text: str) -> float:
        low = text.lower()
        w = self.word.contribution(_word_ngrams(self.token_rx.findall(low), self.word.lo, self.word.hi))
        c = self.char.contribution(self.char.known_char_wb(low))
        return self.intercept + w + c

    def probability(self, text: str) -> float:
        """P(injection) under the logistic model."""
        return sigmoid(self.margin(text))

    @property
    def n_features(self) -> int:
        return len(self.word.table) + len(self.char.table)


def read_bundle() -> dict[str, Any]:
    """The shipped model file, read through importlib.resources (works from a wheel or a zip)."""
    return read_data_bundle(MODEL_FILE)


@lru_cache(maxsize=1)
def load_model() -> InjectionModel:
    """The shipped model, loaded once per process on first use."""
    return InjectionModel(read_bundle())


class InjectionClassifierArgs(ScorerArgs):
    combine_heuristic: bool = Field(
        True, description="also run the `injection` heuristic and flag the text when either one fires"
    )


@scorer(
    name="injection_classifier",
    description="Passes when a trained classifier (TF-IDF + logistic regression, shipped in the package) "
    "finds no prompt injection; by default the `injection` heuristic is consulted too. The score is "
    "P(benign), so `threshold:` overrides the shipped cut. As a guard input rail it blocks such prompts.",
    args=InjectionClassifierArgs,
)
def injection_classifier(a: InjectionClassifierArgs):
    def score(s: Sample) -> Score:
        model = load_model()
        text = s.output or ""
        margin = model.margin(text)
        p = sigmoid(margin)
        meta: dict[str, Any] = {"p_injection": p, "margin": margin}
        stats = f"P(injection)={p:.3f}, margin {margin:+.2f}"
        if a.combine_heuristic:
            total, hits = injection_score(text)
            meta["heuristic"] = total
            if total >= _HEURISTIC_CUT:
                return Score(0.0, False, f"prompt injection cues ({total:.1f}): "
                             + "; ".join(repr(h[:50]) for h in hits[:3]) + f"; classifier {stats}", meta)
        if p >= model.threshold:
            return Score(1.0 - p, False, f"prompt injection: classifier {stats} >= cut {model.threshold:.3f}", meta)
        return Score(1.0 - p, True, f"no injection: classifier {stats} < cut {model.threshold:.3f}", meta)

    return score
