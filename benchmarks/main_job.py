"""The main job's wall time: `evalharness run suites/` with no target (both embedded models, the embedded
judge), no cache, as a new user runs it. Prints the wall time and what bounds it: per target and for the
judge, requests, tokens in/out and the sum of request latencies.

    python benchmarks/main_job.py [--threads N ...] [--repeat 1] [--suites suites/]

`--threads` sets EVALHARNESS_EMBEDDED_THREADS for a run (0 = the default: the cores split between the
embedded servers that run side by side). Run it on an idle machine: it measures seconds, not ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(suites: str, threads: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="main-job-"))
    env = {**os.environ}
    env.pop("EVALHARNESS_EMBEDDED_THREADS", None)
    if threads:
        env["EVALHARNESS_EMBEDDED_THREADS"] = str(threads)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalharness.cli", "run", suites, "--no-cache", "--out", str(out)],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    run_dir = next(p for p in out.iterdir() if (p / "run.json").is_file())
    manifest = json.loads((run_dir / "run.json").read_text())
    import pandas as pd

    r = pd.read_parquet(run_dir / "responses.parquet")
    per = r.groupby("target").agg(requests=("case_id", "size"), tokens_in=("input_tokens", "sum"),
                                  tokens_out=("output_tokens", "sum"), latency_s=("latency_ms", lambda x: x.sum() / 1e3),
                                  p50_ms=("latency_ms", "median"))
    judges = {n: j.get("stats") or {} for n, j in (manifest.get("judges") or {}).items()}
    return {"threads": threads or "default", "wall_s": wall, "exit": proc.returncode, "per_target": per,
            "judges": judges, "right_size": (manifest.get("right_size") or {}).get("verdict"),
            "tail": proc.stdout.splitlines()[-14:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suites", default="suites/")
    ap.add_argument("--threads", type=int, nargs="*", default=[0])
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    for _ in range(a.repeat):
        for th in a.threads:
            res = one(a.suites, th)
            print(f"\n== threads per server: {res['threads']}: wall {res['wall_s']:.1f} s, exit {res['exit']}")
            print(res["per_target"].round(1).to_string())
            for n, st in res["judges"].items():
                print(f"judge {n}: {st.get('calls')} calls, {st.get('input_tokens')} tokens in / "
                      f"{st.get('output_tokens')} out, {st.get('errors')} errors")
            for r in res["right_size"] or []:
                print(f"right size {r['category']}: {r['target'] or r['note']}")
            print("\n".join(res["tail"]))


if __name__ == "__main__":
    main()
