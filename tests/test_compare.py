"""Two recorded runs with injected flips: a significant regression fails, a small drop does not."""

from tests.conftest import write


def make_run(tmp_path, cli, name: str, failing: set[int]) -> str:
    cases = "".join(f"  - {{id: c{i}, input: q, output: '{'no' if i in failing else 'ok'}', tags: [{'even' if i % 2 == 0 else 'odd'}]}}\n"
                    for i in range(40))
    s = write(tmp_path / name / "s.yaml", f"name: reg\ncategory: regression\nscorers: [{{type: exact, value: ok}}]\ncases:\n{cases}")
    out = tmp_path / name / "out"
    r = cli("run", str(s), "--target", "recorded", "--out", str(out))
    assert r.returncode == 0, r.stderr
    (run,) = list(out.iterdir())
    return str(run)


def test_significant_regression_fails_small_drop_passes(tmp_path, cli):
    base = make_run(tmp_path, cli, "a", failing={0, 1})
    big = make_run(tmp_path, cli, "b", failing={0, 1} | set(range(10, 22)))  # 12 pass->fail flips
    small = make_run(tmp_path, cli, "c", failing={0, 2, 3})  # 2 pass->fail, 1 fail->pass

    r = cli("compare", base, big)
    assert r.returncode == 1, r.stdout
    assert "REGRESSION" in r.stdout and "0.0005" in r.stdout  # exact McNemar 2/4096 = 0.000488
    assert "pass->fail reg/c10" in r.stdout
    assert "tag:even" in r.stdout and "tag:odd" in r.stdout and "scorer:exact" in r.stdout

    r = cli("compare", base, small)
    assert r.returncode == 0, r.stdout
    assert "worse, not significant" in r.stdout and "1.0000" in r.stdout  # b=2, c=1: p = 1
    assert "fail->pass reg/c1: A='no' B='ok'" in r.stdout

    r = cli("compare", base, big, "--max-regression", "0.5")
    assert r.returncode == 0  # a 30-point drop is tolerated when the bar is 50 points
