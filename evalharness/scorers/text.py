"""Text-matching scorers: exact, contains*, regex, choice, numeric, length."""

from __future__ import annotations

import math
import re
import string
from typing import Any

from pydantic import Field, model_validator

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer

_PUNCT = str.maketrans("", "", string.punctuation)
_WS = re.compile(r"\s+")


class NormArgs(ScorerArgs):
    ignore_case: bool = Field(True, description="compare case-insensitively")
    ignore_whitespace: bool = Field(True, description="collapse runs of whitespace and strip the ends")
    ignore_punctuation: bool = Field(False, description="drop ASCII punctuation before comparing")


def normalise(text: str, a: NormArgs) -> str:
    if a.ignore_case:
        text = text.casefold()
    if a.ignore_punctuation:
        text = text.translate(_PUNCT)
    if a.ignore_whitespace:
        text = _WS.sub(" ", text).strip()
    return text


def _references(value: Any, sample: Sample) -> list[str]:
    """The reference strings: the scorer's own `value`, else the case's `expected`."""
    ref = value if value is not None else sample.expected
    if ref is None:
        return []
    if isinstance(ref, (list, tuple)):
        return [str(r) for r in ref]
    return [str(ref)]


def _no_reference(name: str) -> Score:
    return Score(0.0, False, f"{name}: no reference (give `value` or the case's `expected`)")


class ExactArgs(NormArgs):
    value: Any = Field(None, description="reference; defaults to the case's `expected` (a list means any of)")


@scorer(name="exact", description="Output equals the reference after normalisation.", args=ExactArgs)
def exact(a: ExactArgs):
    def score(s: Sample) -> Score:
        refs = _references(a.value, s)
        if not refs:
            return _no_reference("exact")
        out = normalise(s.output, a)
        for r in refs:
            if out == normalise(r, a):
                return Score(1.0, True, f"matches {r!r}")
        return Score(0.0, False, f"{_clip(s.output)!r} != {_clip(refs[0])!r}")

    return score


class ContainsArgs(NormArgs):
    value: Any = Field(None, description="substring; defaults to the case's `expected`")


@scorer(name="contains", description="Output contains the reference substring.", args=ContainsArgs)
def contains(a: ContainsArgs):
    def score(s: Sample) -> Score:
        refs = _references(a.value, s)
        if not refs:
            return _no_reference("contains")
        out = normalise(s.output, a)
        hit = [r for r in refs if normalise(r, a) in out]
        if hit:
            return Score(1.0, True, f"contains {hit[0]!r}")
        return Score(0.0, False, f"does not contain {refs[0]!r}")

    return score


class ContainsManyArgs(NormArgs):
    values: list[str] | None = Field(None, description="substrings; default: the case's `expected` list")


def _many(a: ContainsManyArgs, s: Sample) -> list[str]:
    return [str(v) for v in a.values] if a.values is not None else _references(None, s)


@scorer(
    name="contains_any",
    description="Output contains at least one of the substrings.",
    args=ContainsManyArgs,
)
def contains_any(a: ContainsManyArgs):
    def score(s: Sample) -> Score:
        vals = _many(a, s)
        if not vals:
            return _no_reference("contains_any")
        out = normalise(s.output, a)
        hit = [v for v in vals if normalise(v, a) in out]
        if hit:
            return Score(1.0, True, f"contains {hit[0]!r}")
        return Score(0.0, False, f"contains none of {vals!r}")

    return score


@scorer(
    name="contains_all",
    description="Output contains every substring; score is the fraction found.",
    args=ContainsManyArgs,
)
def contains_all(a: ContainsManyArgs):
    def score(s: Sample) -> Score:
        vals = _many(a, s)
        if not vals:
            return _no_reference("contains_all")
        out = normalise(s.output, a)
        missing = [v for v in vals if normalise(v, a) not in out]
        frac = 1 - len(missing) / len(vals)
        if not missing:
            return Score(1.0, True, "contains all")
        return Score(frac, False, f"missing {missing!r}")

    return score


class RegexArgs(ScorerArgs):
    pattern: str = Field(..., description="Python regular expression, searched anywhere in the output")
    ignore_case: bool = False
    multiline: bool = False
    fullmatch: bool = Field(False, description="the whole (stripped) output must match")

    @model_validator(mode="after")
    def _compiles(self) -> "RegexArgs":
        try:
            re.compile(self.pattern)
        except re.error as e:
            raise ValueError(f"invalid regex {self.pattern!r}: {e}") from None
        return self


@scorer(name="regex", description="Output matches a regular expression.", args=RegexArgs)
def regex(a: RegexArgs):
    flags = (re.IGNORECASE if a.ignore_case else 0) | (re.MULTILINE if a.multiline else 0)
    rx = re.compile(a.pattern, flags)

    def score(s: Sample) -> Score:
        m = rx.fullmatch(s.output.strip()) if a.fullmatch else rx.search(s.output)
        if m:
            return Score(1.0, True, f"matched {m.group(0)[:80]!r}")
        return Score(0.0, False, f"no match for /{a.pattern}/")

    return score


class ChoiceArgs(ScorerArgs):
    choices: str = Field("ABCD", description="the option letters, e.g. 'ABCDE'")
    value: str | None = Field(None, description="the right letter; defaults to the case's `expected`")


def extract_choice(text: str, letters: str) -> str | None:
    """Find the letter a model picked. Explicit statements win over stray letters."""
    L = "".join(sorted(set(letters.upper())))
    cls = f"[{re.escape(L)}]"
    patterns = [
        rf"(?i:answer|option|choice)\s*(?:is|:)?\s*[:\-]?\s*\(?({cls})\)?(?![A-Za-z])",
        rf"(?i:^\s*\(?({cls})\)?\s*(?:[.):\-]|$))",
        rf"\(({cls})\)",
        rf"(?<![A-Za-z])({cls})[.)](?:\s|$)",
        rf"(?<![A-Za-z'])({cls})(?![A-Za-z'])",
    ]
    for p in patterns:
        m = re.search(p, text, re.MULTILINE)
        if m:
            return m.group(1).upper()
    return None


@scorer(
    name="choice",
    description="Extracts the multiple-choice letter the output picked and compares it.",
    args=ChoiceArgs,
    needs_expected=True,
)
def choice(a: ChoiceArgs):
    def score(s: Sample) -> Score:
        want = a.value if a.value is not None else s.expected
        if want is None:
            return _no_reference("choice")
        want = str(want).strip().upper()[:1]
        got = extract_choice(s.output, a.choices)
        if got is None:
            return Score(0.0, False, f"no choice among {a.choices} found")
        return Score(float(got == want), got == want, f"picked {got}, expected {want}")

    return score


class NumericArgs(ScorerArgs):
    value: float | None = Field(None, description="the right number; defaults to the case's `expected`")
    abs_tol: float = Field(1e-6, ge=0)
    rel_tol: float = Field(0.0, ge=0)


_NUM = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+")


def extract_final_number(text: str) -> float | None:
    """The last number in the text ('1,234.5' -> 1234.5; a '####' answer line wins)."""
    marked = re.search(r"####\s*(.+)", text)
    if marked:
        text = marked.group(1)
    nums = _NUM.findall(text)
    if not nums:
        return None
    raw = nums[-1].replace(",", "").replace("−", "-")
    try:
        return float(raw)
    except ValueError:
        return None


@scorer(
    name="numeric",
    description="Extracts the final number and compares it within an absolute/relative tolerance.",
    args=NumericArgs,
    needs_expected=True,
)
def numeric(a: NumericArgs):
    def score(s: Sample) -> Score:
        want = a.value if a.value is not None else s.expected
        if want is None:
            return _no_reference("numeric")
        try:
            want_f = float(str(want).replace(",", ""))
        except ValueError:
            return Score(0.0, False, f"expected {want!r} is not a number")
        got = extract_final_number(s.output)
        if got is None:
            return Score(0.0, False, "no number in output")
        ok = math.isclose(got, want_f, abs_tol=a.abs_tol, rel_tol=a.rel_tol)
        return Score(float(ok), ok, f"got {got:g}, expected {want_f:g}")

    return score


class LengthArgs(ScorerArgs):
    min: int | None = Field(None, ge=0, description="minimum characters")
    max: int | None = Field(None, ge=0, description="maximum characters")

    @model_validator(mode="after")
    def _one(self) -> "LengthArgs":
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is greater than `max`")
        return self


@scorer(name="length", description="Output length in characters lies within min/max.", args=LengthArgs)
def length(a: LengthArgs):
    def score(s: Sample) -> Score:
        n = len(s.output)
        if a.min is not None and n < a.min:
            return Score(0.0, False, f"{n} chars < min {a.min}")
        if a.max is not None and n > a.max:
            return Score(0.0, False, f"{n} chars > max {a.max}")
        return Score(1.0, True, f"{n} chars")

    return score


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

