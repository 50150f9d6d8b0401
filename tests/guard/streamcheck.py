"""Shared by the stream tests: the canary, filler text, split points, and an oracle independent of the guard."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import strategies as st

CANARY = "CANARY-91c2e7"
# Filler that cannot form a canary, an SSN or a rail match by itself (no digits, no 'c'/'y').
FILLER = st.text(alphabet="abdefghijklmnopqrstuvwxz ABDEFGH.,!?\n-", max_size=60)


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def first_canary_start(text: str) -> int | None:
    """The first index where the canary begins, verbatim or obfuscated (as the canary scorer sees it)."""
    sq = _squash(CANARY)
    for i in range(len(text)):
        if text.startswith(CANARY, i) or (_squash(text[i]) and _squash(text[i:]).startswith(sq)):
            return i
    return None


def split(text: str, cuts: list[int]) -> list[str]:
    """`text` cut at the given points (taken modulo its length + 1)."""
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in zip(points, points[1:])]
