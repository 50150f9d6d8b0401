"""Every file under examples/ that the README names loads as what it is, and the example suite scores."""


import pandas as pd
import yaml

from evalharness.guard.policy import load_policy
from evalharness.lifecycle.configure import load_targets_file
from evalharness.suite.loader import load_suite
from tests.conftest import ROOT, write

EXAMPLES = ROOT / "examples"


def test_the_readme_names_only_shipped_examples():
    readme = (ROOT / "README.md").read_text()
    named = {p for p in ("math.yaml", "targets.yaml", "labels.yaml", "guard.yaml") if f"examples/{p}" in readme}
    assert named == {"math.yaml", "targets.yaml", "labels.yaml", "guard.yaml"}
    assert all((EXAMPLES / p).is_file() for p in named)


def test_example_suites_targets_and_policy_load():
    assert len(load_suite(EXAMPLES / "math.yaml").cases) == 8
    labels = load_suite(EXAMPLES / "labels.yaml")
    assert {lc.case.label for lc in labels.cases} == {"pass", "fail"}
    targets, judges = load_targets_file(EXAMPLES / "targets.yaml")
    assert set(targets) == {"prod", "candidate"} and judges["default"].concurrency == 8
    assert load_policy(EXAMPLES / "guard.yaml") is not None


def test_math_example_scores_the_final_number(tmp_path, cli):
    doc = yaml.safe_load((EXAMPLES / "math.yaml").read_text())
    right = {"add": "The answer is 42.", "subtract": "63", "multiply": "144", "divide": "9", "percent": "30",
             "word": "42 eggs", "decimal": "3.25", "order": "20"}  # `order` is wrong: 2 + 3 * 4 = 14
    for c in doc["cases"]:
        c["output"] = right[c["id"]]
    s = write(tmp_path / "math.yaml", yaml.safe_dump(doc))
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stdout + r.stderr  # 7 of 8 >= the 0.6 bar
    (run,) = list((tmp_path / "r").iterdir())
    scores = pd.read_parquet(run / "scores.parquet").set_index("case_id")
    assert not scores.loc["order", "passed"] and scores.drop(index="order")["passed"].all()
