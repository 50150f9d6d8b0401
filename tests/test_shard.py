import pandas as pd
import pytest

from evalharness.shard import in_shard, parse_shard
from tests.conftest import write


def test_parse_shard_sources():
    assert parse_shard("2/8") == (2, 8)
    assert parse_shard("auto", {"EVALHARNESS_SHARD": "3/4"}) == (3, 4)
    assert parse_shard("auto", {"JOB_COMPLETION_INDEX": "0", "EVALHARNESS_SHARD_COUNT": "5"}) == (1, 5)
    assert parse_shard("auto", {"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}) == (2, 4)
    for bad in ("0/3", "4/3", "x", "auto"):
        with pytest.raises(ValueError):
            parse_shard(bad, {})


def test_every_case_in_exactly_one_shard():
    ids = [f"c{i}" for i in range(500)]
    owners = [[i for i in range(1, 8) if in_shard("s", c, (i, 7))] for c in ids]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o[0] == i for o in owners) for i in range(1, 8)]
    assert min(sizes) > 40  # roughly balanced


def test_shards_merged_equal_unsharded_run(tmp_path, cli):
    cases = "".join(f"  - {{id: c{i}, input: q, output: '{'ok' if i % 3 else 'bad'}'}}\n" for i in range(30))
    s = write(tmp_path / "s.yaml", f"name: sh\ncategory: accuracy\nscorers: [{{type: exact, value: ok}}]\n"
              f"gate: {{min_pass_rate: 0.5}}\ncases:\n{cases}")
    whole = tmp_path / "whole"
    assert cli("run", str(s), "--target", "recorded", "--out", str(whole)).returncode == 0
    parts = []
    for i in (1, 2, 3):
        out = tmp_path / f"part{i}"
        assert cli("run", str(s), "--target", "recorded", "--shard", f"{i}/3", "--out", str(out)).returncode == 0
        parts += [str(p) for p in out.iterdir()]
    merged = tmp_path / "merged" / "RUN"
    r = cli("merge", *parts, "-o", str(merged))
    assert r.returncode == 0, r.stdout + r.stderr
    cols = ["suite", "case_id", "target", "repeat", "output", "error"]
    (w,) = list(whole.iterdir())
    a = pd.read_parquet(w / "responses.parquet")[cols].sort_values("case_id").reset_index(drop=True)
    b = pd.read_parquet(merged / "responses.parquet")[cols].sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    sa = pd.read_parquet(w / "scores.parquet")[["case_id", "scorer", "score", "passed"]].sort_values("case_id").reset_index(drop=True)
    sb = pd.read_parquet(merged / "scores.parquet")[["case_id", "scorer", "score", "passed"]].sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(sa, sb)
    assert "PASS sh [recorded] overall pass_rate 0.667" in r.stdout
    r = cli("merge", parts[0], parts[0], "-o", str(tmp_path / "dup"))
    assert r.returncode == 2 and "shards overlap" in r.stderr
