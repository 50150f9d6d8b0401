"""Judge calibration: agreement between a judge scorer's verdicts and human labels."""

from __future__ import annotations

from typing import Any


def label_passes(label: Any) -> bool | None:
    if label is None:
        return None
    if isinstance(label, bool):
        return label
    if isinstance(label, str):
        return {"pass": True, "fail": False}.get(label)
    return float(label) >= 0.5


def agreement(judged: list[bool], human: list[bool], scores: list[float] | None = None,
              human_scores: list[float | None] | None = None) -> dict[str, Any]:
    """Accuracy, Cohen's kappa and the confusion matrix (judge vs human; 'pass' is positive)."""
    n = len(judged)
    tp = sum(j and h for j, h in zip(judged, human))
    tn = sum((not j) and (not h) for j, h in zip(judged, human))
    fp = sum(j and not h for j, h in zip(judged, human))
    fn = sum((not j) and h for j, h in zip(judged, human))
    out: dict[str, Any] = {"n": n, "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}
    if not n:
        out.update(accuracy=None, kappa=None)
        return out
    po = (tp + tn) / n
    pe = ((tp + fp) / n) * ((tp + fn) / n) + ((tn + fn) / n) * ((tn + fp) / n)
    out["accuracy"] = po
    out["kappa"] = 1.0 if pe == 1 and po == 1 else (0.0 if pe == 1 else (po - pe) / (1 - pe))
    if scores is not None and human_scores is not None:
        pairs = [(s, h) for s, h in zip(scores, human_scores) if h is not None]
        if pairs:
            out["mean_abs_error"] = sum(abs(s - h) for s, h in pairs) / len(pairs)
    return out
