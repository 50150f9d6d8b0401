"""Reference-overlap scorers from maintained libraries: rouge_l (rouge-score), bleu (sacrebleu)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer


class OverlapArgs(ScorerArgs):
    value: str | list[str] | None = Field(None, description="reference(s); defaults to the case's `expected`")
    pass_at: float = Field(0.5, ge=0, le=1, description="score needed to pass when no `threshold` is set")


def _refs(a: OverlapArgs, s: Sample) -> list[str]:
    ref = a.value if a.value is not None else s.expected
    if ref is None:
        return []
    return [str(r) for r in ref] if isinstance(ref, list) else [str(ref)]


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


@scorer(
    name="rouge_l",
    description="ROUGE-L F1 against the reference(s) (rouge-score, stemmed); best reference wins.",
    args=OverlapArgs,
    needs_expected=True,
)
def rouge_l(a: OverlapArgs):
    def score(s: Sample) -> Score:
        refs = _refs(a, s)
        if not refs:
            return Score(0.0, False, "rouge_l: no reference")
        best = max(_rouge().score(r, s.output)["rougeL"].fmeasure for r in refs)
        return Score(best, best >= a.pass_at, f"ROUGE-L F1 {best:.3f}")

    return score


class BleuArgs(OverlapArgs):
    pass_at: float = Field(0.3, ge=0, le=1, description="score needed to pass when no `threshold` is set")


@scorer(
    name="bleu",
    description="Sentence BLEU (sacrebleu, scaled to 0-1) against the reference(s).",
    args=BleuArgs,
    needs_expected=True,
)
def bleu(a: BleuArgs):
    def score(s: Sample) -> Score:
        import sacrebleu

        refs = _refs(a, s)
        if not refs:
            return Score(0.0, False, "bleu: no reference")
        val = sacrebleu.sentence_bleu(s.output, refs).score / 100.0
        return Score(val, val >= a.pass_at, f"BLEU {val:.3f}")

    return score
