"""`starts_with_capital`: registered with @scorer; the entry point names the factory (module:object)."""

from __future__ import annotations

from pydantic import Field

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer


class StartsWithCapitalArgs(ScorerArgs):
    skip: str = Field("\"'([ ", description="leading characters to skip before the first letter")
    min_words: int = Field(1, ge=1, description="the output must also have at least this many words")


@scorer(name="starts_with_capital", description="the output starts with a capital letter (example plugin)",
        args=StartsWithCapitalArgs)
def starts_with_capital(args: StartsWithCapitalArgs):
    def score(sample: Sample) -> Score:
        text = (sample.output or "").lstrip(args.skip + "\n\t")
        if len(text.split()) < args.min_words:
            return Score(0.0, False, f"fewer than {args.min_words} words")
        ok = text[:1].isupper()
        return Score(1.0 if ok else 0.0, ok, "" if ok else f"starts with {text[:1]!r}")

    return score
