"""100,000 cases x 3 deterministic scorers at latency 0: wall, peak RSS, Parquet size, and rescoring.

    python benchmarks/scale.py [--n 100000] [--concurrency 128] [--keep DIR]

The cases come from a JSONL dataset (as a team would store 100k cases). The run is one
`evalharness run` process against benchmarks/stub_server.py; its peak RSS is the process's own
(ru_maxrss). Then `evalharness rescore RUN --suite ...` scores the stored responses again with no
model reachable (the stub is stopped first) and is timed the same way.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import precompile  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, float, float, int, str]:
    """(wall s, cpu s, peak RSS MB, exit code, stdout tail)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "CI": "true"})
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    return (time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
            os.waitstatus_to_exitcode(status), out[-1500:])


def main() -> None:
    precompile()
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="eh-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "rows.jsonl", "w") as f:
        for i in range(a.n):
            f.write(json.dumps({"id": f"c{i}", "q": f"Question {i}: say the code. REPLY=code {i} ok", "a": f"code {i}"}) + "\n")
    suite = work / "scale.yaml"
    suite.write_text("name: scale\ncategory: accuracy\ndataset: rows.jsonl\nfields: {id: id, a: expected}\n"
                     "prompt: '{{ q }}'\nscorers:\n  - {type: contains}\n  - {type: regex, pattern: 'code [0-9]+'}\n"
                     "  - {type: length, max: 100}\n")
    rescore_suite = work / "rescore" / "scale.yaml"
    rescore_suite.parent.mkdir(exist_ok=True)
    rescore_suite.write_text(suite.read_text().replace("rows.jsonl", str(work / "rows.jsonl"))
                             .replace("{type: length, max: 100}", "{type: length, max: 12}"))
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "--latency-ms", "0"],
                            stdout=subprocess.PIPE, text=True)
    port = int(stub.stdout.readline().split()[1])
    out = work / "reports"
    try:
        wall, cpu, rss, code, tail = timed([sys.executable, "-m", "evalharness.cli", "run", str(suite),
                                            "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m",
                                            "--concurrency", str(a.concurrency), "--no-cache", "--out", str(out)])
    finally:
        stub.terminate()
        stub.wait()
    if code not in (0, 1):
        raise SystemExit(f"run failed ({code}):\n{tail}")
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    sizes = {p.name: p.stat().st_size for p in run.glob("*.parquet")}
    import pyarrow.parquet as pq

    n_resp = pq.read_metadata(run / "responses.parquet").num_rows
    n_scores = pq.read_metadata(run / "scores.parquet").num_rows
    print(f"run:     {a.n:,} cases x 3 scorers, concurrency {a.concurrency}, latency 0")
    print(f"         wall {wall:.1f} s ({a.n / wall:,.0f} cases/s), CPU {cpu:.1f} s, peak RSS {rss:.0f} MB, exit {code}")
    print(f"         responses {n_resp:,} rows, {sizes['responses.parquet'] / 1e6:.1f} MB; "
          f"scores {n_scores:,} rows, {sizes['scores.parquet'] / 1e6:.1f} MB")
    wall2, cpu2, rss2, code2, tail2 = timed([sys.executable, "-m", "evalharness.cli", "rescore", str(run),
                                              "--suite", str(rescore_suite), "--out", str(work / "rescored")])
    if code2 not in (0, 1):
        raise SystemExit(f"rescore failed ({code2}):\n{tail2}")
    print(f"rescore: {n_resp:,} stored responses, 3 scorers, no model: wall {wall2:.1f} s, CPU {cpu2:.1f} s, "
          f"peak RSS {rss2:.0f} MB, exit {code2}")
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
