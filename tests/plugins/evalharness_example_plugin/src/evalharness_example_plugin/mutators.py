"""`shout`: a deterministic mutator registered with @mutator."""

from __future__ import annotations

import random

from evalharness.mutators import mutator


@mutator(name="shout", description="upper-cases the prompt and adds urgency (example plugin)")
def shout(text: str, rng: random.Random) -> str:
    return text.upper() + rng.choice(["!!!", " NOW!", " IMMEDIATELY!"])
