"""The guard's cheap pre-tests (`Rail.quick`, `pii_kinds_possible`) never clear a text the scorer would flag."""

from __future__ import annotations

import random

from evalharness.guard.policy import load_policy, pii_kinds_possible
from evalharness.scorers.safety import PII_PATTERNS, find_pii
from tests.conftest import write

KINDS = list(PII_PATTERNS)
CRAFTED = ["call 555-123-4567", "ssn 123-45-6789", "card 4111 1111 1111 1111", "4111-1111-1111-1111", "ip 10.0.0.1",
           "a@b.co", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "٣٤٥-٦٧-٨٩٠١ (Arabic-Indic digits)",
           "(020) 7946 0958", "+44 20 7946 0958", "１２３-４５-６７８９ (full-width)", "x@y.museum and 1.2.3.4"]


def texts(n: int = 20000) -> list[str]:
    rnd = random.Random(17)
    alphabet = "0123456789٣٤٥１２ -.@()+ABZabz\n"
    return CRAFTED + ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(n)]


def test_pii_prefilter_keeps_every_kind_that_matches():
    for t in texts():
        found = {k for k, _ in find_pii(t, KINDS)}
        assert found <= set(pii_kinds_possible(KINDS, t)), t


def test_quick_agrees_with_the_scorer(tmp_path):
    loaded = load_policy(write(tmp_path / "p.yaml", """\
input_rails:
  - {type: pii, action: redact, name: all_pii}
  - {type: pii, kinds: [ssn, email], action: block, name: some_pii}
  - {type: regex, pattern: "(?i)pipe ?bombs?|\\\\d{3}\\\\.\\\\d", not: true, action: block, name: deny}
  - {type: regex, pattern: "bomb", ignore_case: true, not: true, action: block, name: deny_ci}
  - {type: regex, pattern: "^A", multiline: true, not: true, action: block, name: deny_ml}
"""))
    rails = loaded.input_rails
    assert all(r.quick is not None for r in rails)
    samples = texts(5000) + ["a Pipe Bomb", "BOMB", "x\nA line", "123.4"]
    for r in rails:
        for t in samples:
            full = not r.scorer.score_sync(__import__("evalharness.scorers.base", fromlist=["Sample"]).Sample(
                case_id="t", output=t)).passed
            assert r.trips(t)[0] == full, (r.name, t)
