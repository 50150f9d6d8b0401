"""No secret reaches any output: canary credentials go through every channel (API keys of a target and a
judge, URL userinfo, an endpoint that echoes the Authorization header in an error body), then every byte
the run wrote (run folder, cache, JUnit, Markdown, HTML, stdout, stderr) is searched for them."""

import base64
import secrets
from urllib.parse import quote

from tests.conftest import ServerProc, run_cli, write


def test_canary_secrets_never_reach_any_output(tmp_path, fault_server):
    key, judge_key = f"sk-canary-{secrets.token_hex(8)}", f"jk-canary-{secrets.token_hex(8)}"
    user, password = "canaryuser", f"pw-{secrets.token_hex(6)}"
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    port = fault_server.port
    targets = write(tmp_path / "ci" / "targets.yaml", f"""\
targets:
  - {{name: keyed, base_url: 'http://127.0.0.1:{port}/v1', model: m, api_key_env: CI_SECRET_KEY, max_retries: 0}}
  - {{name: userinfo, base_url: 'http://{user}:{password}@127.0.0.1:{port}/v1', model: m, max_retries: 0}}
judges:
  default: {{base_url: 'http://127.0.0.1:{port}/v1', model: judge, api_key_env: JUDGE_SECRET}}
""")
    suite = write(tmp_path / "suites" / "s.yaml", """\
name: canary
category: accuracy
scorers: [{type: contains, value: ok}, {type: rubric, criteria: 'Is it ok?', metric_only: true}]
gate: {max_error_rate: 1.0}
cases:
  - {id: echo, input: 'FAULT:echoauth'}
  - {id: fine, input: 'REPLY=ok QUALITY=4'}
""")
    out, cache = tmp_path / "reports", tmp_path / "cache"
    env = {"CI_SECRET_KEY": key, "JUDGE_SECRET": judge_key, "EVALHARNESS_CACHE_DIR": str(cache)}
    r = run_cli("run", str(suite), "--targets", str(targets), "--target", "keyed", "--target", "userinfo",
                "--out", str(out), "--junit", str(tmp_path / "junit.xml"), "--summary", str(tmp_path / "summary.md"),
                env=env)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    (run,) = list(out.iterdir())
    # The echo really happened (the channel was exercised): its error is recorded, masked.
    import pandas as pd

    errors = pd.read_parquet(run / "responses.parquet").set_index(["target", "case_id"])["error"]
    assert "HTTP 401" in errors[("keyed", "echo")] and "***" in errors[("keyed", "echo")]
    assert "HTTP 401" in errors[("userinfo", "echo")] and "***" in errors[("userinfo", "echo")]
    r2 = run_cli("report", str(run), "-o", str(tmp_path / "report.html"), env=env)
    assert r2.returncode == 0, r2.stderr
    # A crash log too: the unexpected-error channel.
    r3 = run_cli("run", str(suite), "--base-url", f"http://{user}:{password}@127.0.0.1:1/v1", "--model", "m",
                 "--out", str(out / "x"), env=env)
    assert r3.returncode == 3
    canaries = {key, judge_key, password, f"{user}:{password}", basic, quote(password, safe="")}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "ci" not in p.relative_to(tmp_path).parts[:1]]
    assert any(p.suffix == ".parquet" for p in written) and any(p.name == "responses.sqlite" for p in written)
    for p in written:
        data = p.read_bytes()
        for c in canaries:
            assert c.encode() not in data, f"{c!r} in {p}"
    for stream in (r.stdout, r.stderr, r2.stdout, r2.stderr, r3.stdout, r3.stderr):
        for c in canaries:
            assert c not in stream


def test_a_suite_cannot_send_a_secret_to_its_own_endpoint(tmp_path):
    attacker = ServerProc()
    try:
        suite = write(tmp_path / "s.yaml", f"""\
name: exfil
category: accuracy
judges:
  default: {{base_url: '{attacker.base_url}', model: x, api_key_env: CI_SECRET_KEY}}
scorers: [{{type: rubric, criteria: x}}]
cases: [{{id: a, input: q, output: o}}]
""")
        for cmd in (["validate", str(suite)], ["run", str(suite), "--target", "recorded", "--out", str(tmp_path / "r")]):
            r = run_cli(*cmd, env={"CI_SECRET_KEY": "sk-should-never-leave"})
            assert r.returncode == 2, r.stdout + r.stderr
            assert f"{suite}:4: judges.default.base_url:" in r.stderr and "targets file" in r.stderr
            assert f"{suite}:4: judges.default.api_key_env:" in r.stderr
        assert attacker.stats() == {}  # not one request reached the suite's endpoint
    finally:
        attacker.stop()
