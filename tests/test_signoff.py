import json

from tests.conftest import write


def test_signoff_and_verify_detects_one_changed_byte(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: so\ncategory: accuracy\nscorers: [{type: exact, value: ok}]\n"
              "cases: [{id: a, input: q, output: ok}, {id: b, input: q, output: 'nope'}]\n")
    out = tmp_path / "r"
    assert cli("run", str(s), "--target", "recorded", "--out", str(out)).returncode == 0
    (run,) = list(out.iterdir())
    bundle = tmp_path / "signoff.json"
    r = cli("signoff", str(run), "--approver", "Ada Lovelace", "-o", str(bundle))
    assert r.returncode == 0, r.stderr
    doc = json.loads(bundle.read_text())
    assert doc["approver"] == "Ada Lovelace" and set(doc["files"]) == {"run.json", "responses.parquet", "scores.parquet"}
    assert doc["suites"]["so"] and doc["exit_code"] == 0
    assert cli("verify", str(bundle)).returncode == 0
    data = bytearray((run / "scores.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte
    (run / "scores.parquet").write_bytes(bytes(data))
    r = cli("verify", str(bundle))
    assert r.returncode == 1 and "scores.parquet: sha256 differs" in r.stderr


def test_verifying_nothing_never_passes_and_bad_input_is_exit_2(tmp_path, cli):
    empty = tmp_path / "empty.json"
    empty.write_text('{"run_dir": "/nonexistent", "files": {}}')
    r = cli("verify", str(empty))
    assert r.returncode == 1 and "nothing was verified" in r.stderr
    for text in ("[1, 2]", '{"files": [1]}', "not json"):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        r = cli("verify", str(bad))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (text, r.stderr)
    r = cli("snapshot", str(tmp_path / "missing"), "--suite", "x", "-o", str(tmp_path / "x.yaml"))
    assert r.returncode == 2 and "not a run folder" in r.stderr
