import random

import pytest

from evalharness.stats import mcnemar_exact, pass_at_k, pass_hat_k, paired_bootstrap_ci, wilson


def test_mcnemar_exact_by_hand():
    # b=1, c=6: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 2 * 8 / 128 = 0.125
    assert mcnemar_exact(1, 6) == pytest.approx(0.125)
    # b=0, c=10: p = 2 / 1024
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_wilson_by_hand():
    lo, hi = wilson(8, 10)  # known: 0.4902, 0.9433
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_pass_at_k_and_pass_hat_k():
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(5, 4, 2) == 1.0
    assert pass_hat_k(5, 2, 2) == pytest.approx(1 / 10)  # C(2,2)/C(5,2)
    assert pass_hat_k(5, 5, 3) == 1.0 and pass_hat_k(5, 0, 1) == 0.0


def test_bootstrap_is_seeded_and_covers_a_known_delta():
    a = [1.0] * 50 + [0.0] * 50
    b = list(a)
    assert paired_bootstrap_ci(a, b) == (0.0, 0.0, 0.0)
    rng = random.Random(1)
    x = [float(rng.random() < 0.6) for _ in range(300)]
    y = [xi if rng.random() > 0.2 else float(rng.random() < 0.4) for xi in x]
    assert paired_bootstrap_ci(x, y, seed=3) == paired_bootstrap_ci(x, y, seed=3)
    # coverage on synthetic data with a known true delta of -0.1
    covered = 0
    for trial in range(60):
        r = random.Random(100 + trial)
        a1 = [float(r.random() < 0.7) for _ in range(400)]
        b1 = [ai if r.random() > 1 / 7 else 0.0 for ai in a1]  # drops 1/7 of passes: true delta -0.1
        _, lo, hi = paired_bootstrap_ci(a1, b1, iterations=500, seed=trial)
        covered += lo <= -0.1 <= hi
    assert covered / 60 >= 0.85
