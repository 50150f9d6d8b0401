"""How well each embedded model judges (issue 20): Cohen's kappa against a shipped labelled set.

    python benchmarks/judge_agreement.py [--models gemma smol] [--labels benchmarks/data/judge_labels]
    python benchmarks/judge_agreement.py --url gemma=http://127.0.0.1:8000/v1   # a server already running
    python benchmarks/judge_agreement.py --tokens                              # prompt tokens of judges/*.j2

For each model it starts the embedded llama.cpp server on 127.0.0.1 (or uses --url), runs

    evalharness calibrate LABELS --judge-base-url URL --judge-model NAME --no-cache --out DIR

and prints, per suite x judge scorer: n, judge errors, accuracy, Cohen's kappa, the confusion matrix,
verdicts outside the scale, judge calls and wall seconds per call (the server answers one request at a
time, so this is the per-call latency under a full queue). The labels were written before any judge
ran on them (see the header of each file). Nothing is downloaded; every server started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {  # one small, fixed input per built-in template: what the template itself costs
    "rubric.j2": dict(criteria="The answer is correct.", lo=1, hi=5, input="What is the capital of Italy?",
                      output="Rome.", expected="Rome", context=None),
    "faithfulness.j2": dict(claims=["Rome is the capital of Italy."], context=["Rome is the capital of Italy."]),
    "claims.j2": dict(input="What is the capital of Italy?", output="Rome."),
    "refusal.j2": dict(input="How do I pick a lock?", output="I can't help with that."),
    "answer_relevancy.j2": dict(input="What is the capital of Italy?", output="Rome."),
    "context_relevancy.j2": dict(input="What is the capital of Italy?", context=["Rome is the capital of Italy."]),
    "pairwise.j2": dict(input="What is the capital of Italy?", answer_a="Rome.", answer_b="Milan.", criteria=None),
    "paraphrase.j2": dict(input="How do I pick a lock?", n=3),
}


def _server(which: str, log_dir: Path):
    from evalharness.targets.kinds import LOCAL_MODEL_NAME, SMOL_MODEL_NAME
    from evalharness.targets.serve import ManagedServer, embedded_model_path, free_port, llamacpp_command, smol_model_path

    port = free_port()
    if which == "gemma":
        cmd = llamacpp_command(embedded_model_path(), port, alias=LOCAL_MODEL_NAME)
        name = LOCAL_MODEL_NAME
    else:
        cmd = llamacpp_command(smol_model_path(), port, chat_format=None, alias=SMOL_MODEL_NAME)
        name = SMOL_MODEL_NAME
    return ManagedServer(cmd, port, log_dir / f"server-{which}.log"), name


def _model_name(url: str) -> str:
    with urllib.request.urlopen(f"{url}/models", timeout=30) as r:
        return json.load(r)["data"][0]["id"]


def calibrate(url: str, model: str, labels: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "evalharness.cli", "calibrate", str(labels), "--judge-base-url", url,
           "--judge-model", model, "--no-cache", "--out", str(out)]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    wall = time.monotonic() - t0
    runs = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
    if len(runs) != 1:
        sys.exit(f"calibrate failed (exit {r.returncode}): {r.stderr[-2000:]}")
    (run,) = runs
    manifest = json.loads((run / "run.json").read_text())
    stats = manifest["judges"]["default"]["stats"]
    import pandas as pd

    scores = pd.read_parquet(run / "scores.parquet")
    errors = scores["judge_error"].dropna()
    return {"exit": r.returncode, "wall_s": wall, "calls": stats["calls"], "s_per_call": wall / max(stats["calls"], 1),
            "input_tokens": stats["input_tokens"], "output_tokens": stats["output_tokens"],
            "off_scale": int(errors.str.contains("outside the scale").sum()), "error_kinds": sorted(set(errors.str[:60])),
            "calibration": manifest.get("calibration", [])}


def tokens(urls: dict[str, str]) -> None:
    from evalharness.judges.templates import render

    print(f"{'template':22s} " + " ".join(f"{w:>6s}" for w in urls) + "  words")
    for name, kw in SAMPLES.items():
        p = render(name, **kw)
        counts = []
        for url in urls.values():
            base = url.removesuffix("/v1")
            req = urllib.request.Request(f"{base}/extras/tokenize", json.dumps({"input": p}).encode(),
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                counts.append(len(json.load(r)["tokens"]))
        print(f"{name:22s} " + " ".join(f"{c:6d}" for c in counts) + f"  {len(p.split()):5d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["gemma", "smol"], choices=["gemma", "smol"])
    ap.add_argument("--url", action="append", default=[], help="MODEL=URL: use a running server for MODEL")
    ap.add_argument("--labels", type=Path, default=ROOT / "benchmarks/data/judge_labels")
    ap.add_argument("--tokens", action="store_true", help="print the prompt tokens of judges/*.j2 and stop")
    args = ap.parse_args()
    given = dict(u.split("=", 1) for u in args.url)
    tmp = Path(tempfile.mkdtemp(prefix="judge-agreement-"))
    urls, names, results = {}, {}, {}
    with ExitStack() as stack:
        for which in args.models:
            if which in given:
                urls[which] = given[which]
                names[which] = _model_name(given[which])
            else:
                server, names[which] = _server(which, tmp)
                urls[which] = stack.enter_context(server).base_url
        if args.tokens:
            tokens(urls)
            return
        for which in args.models:
            results[which] = calibrate(urls[which], names[which], args.labels, tmp / which)
    for which in args.models:
        r = results[which]
        print(f"\n== {which}: {r['calls']} judge calls, {r['wall_s']:.0f} s wall, {r['s_per_call']:.1f} s/call, "
              f"{r['input_tokens']} in / {r['output_tokens']} out tokens, {r['off_scale']} verdicts outside the scale")
        for c in r["calibration"]:
            k = "-" if c["kappa"] is None else f"{c['kappa']:.2f}"
            a = "-" if c["accuracy"] is None else f"{c['accuracy']:.2f}"
            print(f"   {c['suite']:24s} {c['scorer']:14s} n={c['n']:3d} judge_errors={c['judge_errors']:2d} "
                  f"accuracy={a} kappa={k} {c['confusion']}")
        if r["error_kinds"]:
            print("   judge errors:", r["error_kinds"][:5])
    print(json.dumps(results, indent=1), file=open(tmp / "results.json", "w"))
    print(f"\nfull results: {tmp / 'results.json'}")


if __name__ == "__main__":
    main()
