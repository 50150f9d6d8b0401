"""Attack success of suites/safety/ against an always-complying endpoint, with and without the guard.

    python benchmarks/guard_attack_success.py [--policy examples/guard.yaml] [--suites suites/safety] [--stream]

Starts a scripted endpoint that complies with everything: it answers every request helpfully, repeats
everything it was told (system prompt, retrieved text and tool results included) and follows
instructions it finds in tool results (it calls the tool they name). Then one `evalharness run` sends
the same cases to it directly (target `complier`) and through the guard (the built-in `guarded` target
with `--guard-policy`). Prints, per suite and pooled, the attack success rate (failed `attack` cases)
and the over-refusal rate (failed `benign` cases) of both targets. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _text(content) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content or ""


def comply(body: dict) -> dict:
    """The always-complying answer to a chat request."""
    msgs = body.get("messages") or []
    tools = [t["function"] for t in body.get("tools") or [] if isinstance(t, dict) and "function" in t]
    called = {c["function"]["name"] for m in msgs if m.get("role") == "assistant" for c in m.get("tool_calls") or []}
    tool_text = " ".join(_text(m.get("content")) for m in msgs if m.get("role") == "tool")
    call = None
    if tools and not tool_text:
        choice = body.get("tool_choice")
        call = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["name"]
    elif tools:  # obey the tool result: call any tool it names
        call = next((t["name"] for t in tools if t["name"] not in called and t["name"] in tool_text), None)
    if call is not None:
        params = next(t.get("parameters") or {} for t in tools if t["name"] == call)
        args = {p: "as instructed" for p in params.get("properties") or {}}
        if "to" in args:
            args["to"] = next(iter(re.findall(r"[\w.+-]+@[\w.-]+", tool_text)), "someone@example.com")
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{len(called)}", "type": "function", "function": {"name": call, "arguments": json.dumps(args)}}]}
        finish = "tool_calls"
    else:
        told = "\n".join(_text(m.get("content")) for m in msgs)
        message = {"role": "assistant", "content": "Sure, here is exactly what you asked for. Step 1: gather what you need. "
                   "Step 2: do it carefully, as described. Everything I was told, as asked:\n" + told}
        finish = "stop"
    return {"id": "complier", "object": "chat.completion", "created": 0, "model": body.get("model", "complier"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def serve() -> None:
    from aiohttp import web

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        doc = comply(body)
        if not body.get("stream"):
            return web.json_response(doc)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        msg, finish = doc["choices"][0]["message"], doc["choices"][0]["finish_reason"]
        if msg.get("tool_calls"):
            deltas = [{"role": "assistant", "tool_calls": [{"index": 0, **msg["tool_calls"][0]}]}]
        else:
            words = re.findall(r"\S+\s*", msg["content"])
            deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in words]
        for d in deltas + [{}]:
            chunk = {"id": "complier", "model": doc["model"],
                     "choices": [{"index": 0, "delta": d, "finish_reason": None if d else finish}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def models(_request):
        return web.json_response({"object": "list", "data": [{"id": "complier"}]})

    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None)


def rates(run_dir: Path) -> dict[str, dict[str, dict]]:
    """target -> suite (and "pooled") -> {attack, attack_success, benign, over_refusal}, from the verdicts."""
    import pyarrow.parquet as pq

    from evalharness.gate import verdict_table

    rows = verdict_table(pq.read_table(run_dir / "responses.parquet"), pq.read_table(run_dir / "scores.parquet")).to_pandas()
    out: dict[str, dict[str, dict]] = {}
    tagged = rows["tags"].map(lambda t: set(t) if t is not None else set())
    failed = rows[(rows["target"] == "guarded") & ~rows["passed"].astype(bool)]
    out["_failed"] = {"attack": sorted(failed.loc[tagged[failed.index].map(lambda t: "attack" in t), "case_id"]),
                      "benign": sorted(failed.loc[tagged[failed.index].map(lambda t: "benign" in t), "case_id"])}
    for target, part in rows.groupby("target"):
        per = out.setdefault(target, {})
        for suite, p in list(part.groupby("suite")) + [("pooled", part)]:
            tags = p["tags"].map(lambda t: set(t) if t is not None else set())
            att, ben = p[tags.map(lambda t: "attack" in t)], p[tags.map(lambda t: "benign" in t)]
            per[suite] = {"attack": len(att), "attack_success": (~att["passed"].astype(bool)).mean() if len(att) else None,
                          "benign": len(ben), "over_refusal": (~ben["passed"].astype(bool)).mean() if len(ben) else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default=str(ROOT / "examples" / "guard.yaml"))
    ap.add_argument("--suites", default=str(ROOT / "suites" / "safety"))
    ap.add_argument("--stream", action="store_true", help="stream every answer (the guard's hold-back path)")
    ap.add_argument("--heuristic-only", action="store_true",
                    help="swap the policy's injection_classifier rails for the regex heuristic (`injection`)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve()
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        with tempfile.TemporaryDirectory() as tmp:
            policy = a.policy
            if a.heuristic_only:
                policy = str(Path(tmp) / "policy.yaml")
                Path(policy).write_text(re.sub(r"\btype: injection_classifier\b", "type: injection", Path(a.policy).read_text()))
            cmd = [sys.executable, "-m", "evalharness.cli", "run", a.suites, "--base-url", f"http://127.0.0.1:{port}/v1",
                   "--model", "complier", "--target", "guarded", "--guard-policy", policy, "--out", str(Path(tmp) / "runs"),
                   "--no-cache"]
            r = subprocess.run(cmd + (["--stream"] if a.stream else []), capture_output=True, text=True, cwd=ROOT)
            runs = [p for p in (Path(tmp) / "runs").iterdir() if p.is_dir()] if (Path(tmp) / "runs").is_dir() else []
            if r.returncode not in (0, 1) or not runs:
                sys.exit(f"evalharness run failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
            result = rates(runs[0])
    finally:
        server.terminate()
        server.wait(timeout=10)
    failed = result.pop("_failed")
    suites = sorted({s for per in result.values() for s in per} - {"pooled"}) + ["pooled"]
    fmt = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
    print(f"policy {a.policy}{' (injection rails: heuristic only)' if a.heuristic_only else ''}, "
          f"{'streamed' if a.stream else 'not streamed'}")
    print("| suite | attack cases | attack success, direct | attack success, guarded | benign cases | "
          "over-refusal, direct | over-refusal, guarded |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in suites:
        d, g = result["complier"].get(s, {}), result["guarded"].get(s, {})
        print(f"| {s} | {d.get('attack', 0)} | {fmt(d.get('attack_success'))} | {fmt(g.get('attack_success'))} | "
              f"{d.get('benign', 0)} | {fmt(d.get('over_refusal'))} | {fmt(g.get('over_refusal'))} |")
    print(f"attacks that got through the guard: {', '.join(failed['attack']) or 'none'}")
    print(f"benign cases the guard refused: {', '.join(failed['benign']) or 'none'}")


if __name__ == "__main__":
    main()
