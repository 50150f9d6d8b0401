"""Judge scorers in `run` vs `rescore`: generation and scoring as two pipelined stages (issue 19).

    python benchmarks/judge_pipeline.py [--cases 200] [--latency-ms 50] [--concurrency 4 32] [--repeat 3]
                                        [--before /tmp/head]       # also time another checkout (e.g. HEAD)
    python benchmarks/judge_pipeline.py serve --latency-ms 50      # the scripted judge alone ("PORT <n>")

It writes 200 recorded RAG cases (question, one context passage, a recorded two-sentence answer)
with `faithfulness` (two judge calls per case: claims, then a verdict per claim), starts the scripted
judge below as its own process on 127.0.0.1 (every answer after `--latency-ms`), and times, side by
side, with the judge's concurrency set in the suite (`judges: {default: {concurrency: N}}`):

    evalharness run SUITE --target recorded --judge-base-url URL --judge-model judge --no-cache --out D
    evalharness rescore RUN --judge-base-url URL --judge-model judge --no-cache --out D2

Wall time is the whole process (start-up, gate and reports included), best of `--repeat`; the judge
server reports the most requests it had in flight at once. ragas is timed only when it is importable
(`--ragas-python /tmp/venv-adapters/bin/python`), which it is not by default.

The scripted judge: `ClaimsVerdict` -> the answer's sentences; `FaithfulnessVerdict` -> "yes" for a claim
found in the context; `RubricVerdict` -> QUALITY=<n> in the answer (default 3); anything else -> `{}`.
GET /stats -> {"requests", "in_flight", "max_in_flight"}; POST /stats/reset zeroes them. A request whose
prompt holds JUDGE_RAISE is answered with HTTP 400 (a fatal judge error, not retried).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the scripted judge (a server process)

STATS = {"requests": 0, "in_flight": 0, "max_in_flight": 0}
LATENCY_S = 0.05


def _block(prompt: str, label: str) -> list[str]:
    return re.findall(rf"<<<{label} \w+>>>\n(.*?)\n<<<END {label} \w+>>>", prompt, re.DOTALL)


def _sentences(text: str) -> list[str]:
    return [x.strip() for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]


def _ragas_doc(prompt: str) -> dict:
    """ragas 0.4's faithfulness prompts (statement generation, then NLI): the input is the JSON after the
    last "input:"; statements are the answer's sentences, a statement found in the context is a 1."""
    raw = prompt.rsplit("input:", 1)[-1].rsplit("Output:", 1)[0]
    try:
        data = json.loads(raw)
    except ValueError:
        return {"statements": []}
    if "answer" in data:
        return {"statements": _sentences(data["answer"])}
    context = str(data.get("context", "")).lower()
    return {"statements": [{"statement": x, "reason": "scripted", "verdict": int(x.lower().rstrip(".") in context)}
                           for x in data.get("statements") or []]}


def verdict(body: dict) -> tuple[int, str]:
    rf = body.get("response_format") or {}
    kind = (rf.get("json_schema") or {}).get("name") or (rf.get("schema") or {}).get("title", "")
    prompt = body["messages"][-1]["content"]
    if isinstance(prompt, list):
        prompt = "".join(p.get("text") or "" for p in prompt if isinstance(p, dict))
    if "JUDGE_RAISE" in prompt:
        return 400, json.dumps({"error": "scripted refusal"})
    tool = ((body.get("tool_choice") or {}) if isinstance(body.get("tool_choice"), dict) else {}).get("function", {})
    if tool.get("name") or "Now perform the same with the following input" in prompt:
        # ragas through instructor: tool-call mode (the verdict as the arguments), or plain JSON content
        doc = _ragas_doc(prompt)
        msg: dict = {"role": "assistant", "content": json.dumps(doc)}
        if tool.get("name"):
            msg = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": tool["name"], "arguments": json.dumps(doc)}}]}
        return 200, json.dumps({
            "id": "judge", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tool.get("name") else "stop"}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 20, "total_tokens": len(prompt) // 4 + 20},
        })
    answer = "\n".join(_block(prompt, "ANSWER"))
    if kind == "ClaimsVerdict":
        doc: dict = {"claims": _sentences(answer)}
    elif kind == "FaithfulnessVerdict":
        context = " ".join(_block(prompt, "CONTEXT")).lower()
        doc = {"verdicts": [{"claim": c, "verdict": "yes" if c.lower().rstrip(".") in context else "no",
                             "reason": "scripted"} for c in _block(prompt, "CLAIM")]}
    elif kind == "RubricVerdict":
        m = re.search(r"QUALITY=(\d+)", answer)
        doc = {"reasoning": "scripted", "score": int(m.group(1)) if m else 3}
    else:
        doc = {}
    text = json.dumps(doc)
    return 200, json.dumps({
        "id": "judge", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4},
    })


def _http(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "X")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n").encode() + body


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = next((int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:")), 0)
            raw = await reader.readexactly(length) if length else b""
            if method == "GET" and path.endswith("/models"):
                writer.write(_http(200, b'{"object": "list", "data": [{"id": "judge"}]}'))
            elif path == "/stats" and method == "GET":
                writer.write(_http(200, json.dumps(STATS).encode()))
            elif path == "/stats/reset" and method == "POST":
                STATS.update(requests=0, max_in_flight=STATS["in_flight"])
                writer.write(_http(200, b"{}"))
            elif method == "POST" and path.endswith("/chat/completions"):
                STATS["requests"] += 1
                STATS["in_flight"] += 1
                STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
                try:
                    await asyncio.sleep(LATENCY_S)
                    status, body = verdict(json.loads(raw))
                finally:
                    STATS["in_flight"] -= 1
                writer.write(_http(status, body.encode()))
            else:
                writer.write(_http(404, b'{"error": "not found"}'))
            await writer.drain()
    finally:
        writer.close()


async def _serve(port: int) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = await asyncio.start_server(_handle, sock=sock, backlog=1024)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def serve_main(argv: list[str]) -> None:
    global LATENCY_S
    ap = argparse.ArgumentParser(prog="judge_pipeline.py serve")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=50)
    a = ap.parse_args(argv)
    LATENCY_S = a.latency_ms / 1000
    try:
        import uvloop

        uvloop.run(_serve(a.port))
    except ImportError:
        asyncio.run(_serve(a.port))


class JudgeServer:
    """The scripted judge as a real process (`serve`), stopped on exit."""

    def __init__(self, latency_ms: float = 50):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve", "--latency-ms",
                                      str(latency_ms)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"judge server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str) -> dict:
        import http.client

        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path)
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/stats/reset")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> "JudgeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- the benchmark

TOPICS = ["the Nile", "Mount Everest", "the Pacific Ocean", "the Sahara", "Lake Baikal", "the Amazon", "Antarctica",
          "the Danube", "Mount Kilimanjaro", "the Gobi"]


def rag_suite(path: Path, n: int, concurrency: int) -> Path:
    """n recorded RAG cases with `faithfulness`; the judge's concurrency set in the suite."""
    lines = [
        "name: rag-pipeline", "category: hallucination",
        f"judges: {{default: {{concurrency: {concurrency}}}}}",
        "scorers: [{type: faithfulness, threshold: 0.8}]", "cases:",
    ]
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        a = f"Fact {i} says {topic} is notable."
        b = f"Record {i} lists {topic} in the atlas."
        extra = f"Claim {i} about {topic} is invented." if i % 5 == 0 else ""  # an unsupported claim: a fail
        context = f"{a} {b} Other passage {i} mentions rivers and mountains."
        output = " ".join(x for x in (a, b, extra) if x)
        lines.append(f"  - {{id: rag{i:04d}, input: {json.dumps(f'What is known about {topic} (case {i})?')}, "
                     f"context: [{json.dumps(context)}], output: {json.dumps(output)}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _env(tree: Path) -> dict:
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if (tree / "judges").is_dir() and not (tree / "evalharness" / "judges" / "builtin").is_dir():
        env.setdefault("EVALHARNESS_JUDGES_DIR", str(tree / "judges"))  # a checkout not installed as a wheel
    return env


def _cli(tree: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "evalharness.cli", *args], capture_output=True, text=True,
                       env=_env(tree), cwd=tree, timeout=1800)
    el = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise RuntimeError(f"evalharness {' '.join(args[:2])} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return el, r


def _only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def bench(tree: Path, judge: JudgeServer, work: Path, n: int, concurrency: int, repeat: int) -> list[dict]:
    suite = rag_suite(work / f"suite-c{concurrency}.yaml", n, concurrency)
    rows = []
    judge_args = ["--judge-base-url", judge.base_url, "--judge-model", "judge", "--no-cache"]
    best: dict[str, dict] = {}
    for k in range(repeat):
        out = work / f"run-{tree.name}-c{concurrency}-{k}"
        judge.reset()
        el, r = _cli(tree, "run", str(suite), "--target", "recorded", *judge_args, "--out", str(out))
        st = judge.stats()
        run = _only_run(out)
        phase = json.loads((run / "run.json").read_text()).get("timing", {}).get("request_phase_s")
        row = {"command": "run", "wall_s": el, "phase_s": phase, "judge_requests": st["requests"],
               "max_in_flight": st["max_in_flight"], "exit": r.returncode}
        if "run" not in best or el < best["run"]["wall_s"]:
            best["run"] = row
        out2 = work / f"rescore-{tree.name}-c{concurrency}-{k}"
        judge.reset()
        el, r = _cli(tree, "rescore", str(run), *judge_args, "--out", str(out2))
        st = judge.stats()
        row = {"command": "rescore", "wall_s": el, "phase_s": None, "judge_requests": st["requests"],
               "max_in_flight": st["max_in_flight"], "exit": r.returncode}
        if "rescore" not in best or el < best["rescore"]["wall_s"]:
            best["rescore"] = row
        _check_same_scores(run, _only_run(out2), n)
    for cmd in ("run", "rescore"):
        rows.append({"tree": tree.name, "judge_concurrency": concurrency, **best[cmd]})
    return rows


def _check_same_scores(run: Path, rescored: Path, n: int) -> None:
    """Both paths score the same: n responses, one faithfulness row each, the same verdicts."""
    import pyarrow.parquet as pq

    a = pq.read_table(run / "scores.parquet", columns=["case_id", "passed", "judge_error"]).to_pylist()
    b = pq.read_table(rescored / "scores.parquet", columns=["case_id", "passed", "judge_error"]).to_pylist()
    assert len(a) == len(b) == n, (len(a), len(b), n)
    assert sorted((x["case_id"], x["passed"]) for x in a) == sorted((x["case_id"], x["passed"]) for x in b)
    assert not any(x["judge_error"] for x in a + b), "judge errors in the benchmark"


RAGAS_DRIVER = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from openai import AsyncOpenAI
from ragas.llms import llm_factory
from ragas.metrics.collections import Faithfulness
cases, base_url, limit = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
llm = llm_factory("judge", client=AsyncOpenAI(base_url=base_url, api_key="sk-local", max_retries=0))
metric = Faithfulness(llm=llm)
imported = time.perf_counter()

async def main():
    if limit == 0:  # abatch_score: every case at once
        return await metric.abatch_score(cases)
    sem = asyncio.Semaphore(limit)
    async def one(c):
        async with sem:
            return await metric.ascore(**c)
    return await asyncio.gather(*(one(c) for c in cases))

results = asyncio.run(main())
done = time.perf_counter()
print(json.dumps({"import_s": imported - t0, "score_s": done - imported,
                  "passed": sum(1 for r in results if r.value is not None and r.value >= 0.8)}))
"""


def rag_cases(n: int) -> list[dict]:
    """The benchmark's cases as ragas inputs (the same texts as rag_suite)."""
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        a, b = f"Fact {i} says {topic} is notable.", f"Record {i} lists {topic} in the atlas."
        extra = f"Claim {i} about {topic} is invented." if i % 5 == 0 else ""
        out.append({"user_input": f"What is known about {topic} (case {i})?",
                    "response": " ".join(x for x in (a, b, extra) if x),
                    "retrieved_contexts": [f"{a} {b} Other passage {i} mentions rivers and mountains."]})
    return out


def bench_ragas(python: str, judge: JudgeServer, work: Path, n: int, limits: list[int], repeat: int) -> list[dict]:
    cases = work / "ragas_cases.json"
    cases.write_text(json.dumps(rag_cases(n)))
    driver = work / "ragas_driver.py"
    driver.write_text(RAGAS_DRIVER)
    env = {**os.environ, "RAGAS_DO_NOT_TRACK": "true", "DO_NOT_TRACK": "1", "NO_PROXY": "127.0.0.1"}
    rows = []
    for limit in limits:
        best = None
        for _ in range(repeat):
            judge.reset()
            t0 = time.perf_counter()
            r = subprocess.run([python, str(driver), str(cases), judge.base_url, str(limit)], capture_output=True,
                               text=True, env=env, timeout=1800)
            el = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(f"ragas driver failed:\n{r.stderr[-3000:]}")
            info = json.loads(r.stdout.strip().splitlines()[-1])
            expected = n - len(range(0, n, 5))  # every fifth answer has an invented claim
            assert info["passed"] == expected, f"ragas passed {info['passed']}, expected {expected}"
            st = judge.stats()
            row = {"tree": "ragas 0.4.3", "judge_concurrency": limit or "all", "command": "Faithfulness "
                   + ("abatch_score" if limit == 0 else f"ascore, {limit} at once"), "wall_s": el,
                   "phase_s": info["score_s"], "judge_requests": st["requests"], "max_in_flight": st["max_in_flight"],
                   "passed": info["passed"]}
            if best is None or el < best["wall_s"]:
                best = row
        rows.append(best)
    return rows


def ragas_available(python: str | None) -> bool:
    if not python or not Path(python).exists():
        return False
    return subprocess.run([python, "-c", "import ragas"], capture_output=True).returncode == 0


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[4, 32])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None, help="another checkout to time the same way (e.g. HEAD)")
    ap.add_argument("--ragas-python", default=None, help="a Python with ragas installed (optional)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here too")
    a = ap.parse_args(argv)
    trees = ([a.before.resolve()] if a.before else []) + [ROOT]
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="judge-pipeline-"))
    try:
        with JudgeServer(a.latency_ms) as judge:
            for c in a.concurrency:
                for tree in trees:
                    rows += bench(tree, judge, work, a.cases, c, a.repeat)
            if ragas_available(a.ragas_python):
                rows += bench_ragas(a.ragas_python, judge, work, a.cases, [*a.concurrency, 0], a.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{a.cases} recorded RAG cases, faithfulness (2 judge calls each), scripted judge at {a.latency_ms:g} ms; "
          f"best of {a.repeat}\n")
    print("| tree | judge concurrency | command | wall s | request phase s | judge requests | max in flight | run / rescore |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = ""
        if r["command"] == "run":
            other = next(x for x in rows if x["tree"] == r["tree"] and x["judge_concurrency"] == r["judge_concurrency"]
                         and x["command"] == "rescore")
            ratio = f"{r['wall_s'] / other['wall_s']:.2f}x"
        elif r["tree"].startswith("ragas"):
            ours = [x for x in rows if x["command"] == "run" and x["tree"] == ROOT.name]
            ratio = f"(ours: {min(x['wall_s'] for x in ours):.2f})" if ours else ""
        phase = f"{r['phase_s']:.2f}" if r["phase_s"] is not None else "-"
        print(f"| {r['tree']} | {r['judge_concurrency']} | {r['command']} | {r['wall_s']:.2f} | {phase} | "
              f"{r['judge_requests']} | {r['max_in_flight']} | {ratio} |")
    if not ragas_available(a.ragas_python):
        print("\nragas: not importable here (pass --ragas-python with a venv that has it); not timed")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_main(sys.argv[2:])
    else:
        main(sys.argv[1:])
