"""The event loop: uvloop by default, asyncio on request, and a clear error for anything else."""

import asyncio
import json

import pytest

from evalharness.engine import loop
from tests.conftest import write


def test_default_is_uvloop_and_it_really_runs_the_coroutine(monkeypatch):
    uvloop = pytest.importorskip("uvloop")  # a core dependency on Linux and macOS
    monkeypatch.delenv(loop.ENV, raising=False)
    name, factory = loop.loop_factory()
    assert name == f"uvloop {uvloop.__version__}" and factory is uvloop.new_event_loop

    async def which() -> type:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert loop.run(which()) is uvloop.Loop


def test_asyncio_on_request(monkeypatch):
    monkeypatch.setenv(loop.ENV, "asyncio")
    assert loop.loop_factory() == ("asyncio", None)

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert loop.run(which()).startswith("asyncio")


def test_unknown_loop_is_an_error_not_a_silent_default(monkeypatch):
    monkeypatch.setenv(loop.ENV, "uvlop")
    with pytest.raises(ValueError, match="EVALHARNESS_EVENT_LOOP='uvlop': expected one of auto, uvloop, asyncio"):
        loop.loop_factory()


def test_cli_refuses_an_unknown_loop_before_creating_a_run(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains}]\n"
              "cases: [{id: a, input: hi, expected: hi}]\n")
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "r"), env={loop.ENV: "trio"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "EVALHARNESS_EVENT_LOOP" in r.stderr and "'trio'" in r.stderr
    assert not (tmp_path / "r").exists()


def test_run_json_records_loop_and_request_phase(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains}]\n"
              "cases: [{id: a, input: hi, expected: hi, output: hi}, {id: b, input: yo, expected: x, output: yo}]\n")
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "r"), env={loop.ENV: "asyncio"})
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = (tmp_path / "r").iterdir()
    timing = json.loads((run / "run.json").read_text())["timing"]
    assert timing["event_loop"] == "asyncio"
    assert timing["request_phase_s"] > 0
    assert timing["requests_per_s"] == pytest.approx(2 / timing["request_phase_s"], rel=0.05)
    assert "requests:  2 in" in r.stdout


def test_rescore_and_paraphrase_refuse_an_unknown_loop_before_writing(tmp_path, cli):
    s = write(tmp_path / "s.yaml", "name: s\ncategory: accuracy\nscorers: [{type: contains}]\n"
              "cases: [{id: a, input: hi, expected: hi, output: hi}]\n")
    r = cli("run", str(s), "--target", "recorded", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = (tmp_path / "r").iterdir()
    r = cli("rescore", str(run), "--out", str(tmp_path / "new"), env={loop.ENV: "trio"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "EVALHARNESS_EVENT_LOOP='trio'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "new").exists()
    r = cli("generate", str(s), "-o", str(tmp_path / "g.yaml"), "--paraphrase", "1",
            "--paraphrase-base-url", "http://127.0.0.1:9/v1", "--paraphrase-model", "m", env={loop.ENV: "trio"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "EVALHARNESS_EVENT_LOOP='trio'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "g.yaml").exists()
