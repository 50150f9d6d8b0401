"""Statistics for deciding "not worse than what we ship": exact McNemar, paired bootstrap CI,
Wilson bounds, pass@k and pass^k. Pure functions, seeded where random."""

from __future__ import annotations

import math
import random
from math import comb


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b (pass->fail) and c (fail->pass) discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    p = 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, p)


def paired_bootstrap_ci(a: list[float], b: list[float], *, iterations: int = 2000, alpha: float = 0.05,
                        seed: int = 0) -> tuple[float, float, float]:
    """(delta, low, high): delta = mean(b) - mean(a) over paired items, with a percentile bootstrap CI."""
    if len(a) != len(b) or not a:
        raise ValueError("paired samples must be non-empty and of equal length")
    n = len(a)
    diffs = [y - x for x, y in zip(a, b)]
    delta = sum(diffs) / n
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(iterations))
    lo = means[int(math.floor(alpha / 2 * iterations))]
    hi = means[min(iterations - 1, int(math.ceil((1 - alpha / 2) * iterations)) - 1)]
    return delta, lo, hi


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): chance that at least one of k samples of n passes."""
    if k > n:
        raise ValueError("k must not exceed n")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: chance that all k samples drawn from n (c passing) pass."""
    if k > n:
        raise ValueError("k must not exceed n")
    return comb(c, k) / comb(n, k)
