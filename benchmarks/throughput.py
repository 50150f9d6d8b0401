"""evalharness against the raw client, alternating, against the same stub: medians and ratios.

    python benchmarks/throughput.py [--latency-ms 50] [--concurrency 64] [--n 2000] [--reps 3]
    python benchmarks/throughput.py --grid     # latency 0/50/200 x concurrency 16/64/256 (slow)

Each run is a separate process, timed whole (imports, Parquet writing and scoring included);
CPU seconds and peak RSS come from the process's own resource usage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import precompile  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """(wall s, cpu s, peak rss MB, stdout) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={**os.environ, "CI": "true"})
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{cmd[:4]} failed with {status}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out


def suite_file(n: int, d: Path) -> Path:
    cases = "".join(f"  - {{id: c{i}, input: 'REPLY=ok {i}'}}\n" for i in range(n))
    p = d / "bench.yaml"
    p.write_text("name: bench\ncategory: accuracy\nscorers:\n  - {type: contains, value: ok}\n"
                 "  - {type: regex, pattern: 'ok [0-9]+'}\n  - {type: length, max: 100}\ncases:\n" + cases)
    return p


def point(latency_ms: float, concurrency: int, n: int, reps: int, openai: bool = False) -> dict:
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    port = int(stub.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}/v1"
    time.sleep(1.0)
    res = {"raw": [], "evalharness": [], "openai": []}
    try:
        with tempfile.TemporaryDirectory() as td:
            suite = suite_file(n, Path(td))
            for rep in range(reps):
                raw = timed([sys.executable, str(HERE / "raw_client.py"), "--base-url", base, "--n", str(n),
                             "--concurrency", str(concurrency)])
                assert json.loads(raw[3])["correct"] == n
                eh = timed([sys.executable, "-m", "evalharness.cli", "run", str(suite), "--base-url", base, "--model", "m",
                            "--concurrency", str(concurrency), "--no-cache", "--out", str(Path(td) / f"r{rep}")])
                res["raw"].append(raw[:3])
                res["evalharness"].append(eh[:3])
                if openai:  # the plain AsyncOpenAI loop the issue names as its reference
                    oa = timed([sys.executable, str(HERE / "raw_client.py"), "--base-url", base, "--n", str(n),
                                "--concurrency", str(concurrency), "--client", "openai"])
                    assert json.loads(oa[3])["correct"] == n
                    res["openai"].append(oa[:3])
    finally:
        stub.terminate()
        stub.wait()
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in res.items() if v}
    return {"latency_ms": latency_ms, "concurrency": concurrency, "n": n, "reps": reps,
            "raw_wall_s": med["raw"][0], "eh_wall_s": med["evalharness"][0],
            "ratio_raw_over_eh": med["raw"][0] / med["evalharness"][0],
            "eh_req_per_s": n / med["evalharness"][0], "raw_req_per_s": n / med["raw"][0],
            "eh_cpu_s_per_1000": 1000 * med["evalharness"][1] / n, "raw_cpu_s_per_1000": 1000 * med["raw"][1] / n,
            "eh_peak_rss_mb": med["evalharness"][2], "raw_peak_rss_mb": med["raw"][2],
            "openai_wall_s": med["openai"][0] if "openai" in med else None}


def main() -> None:
    precompile()
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--openai", action="store_true", help="also time a plain AsyncOpenAI loop (pip install -e '.[bench]')")
    a = ap.parse_args()
    grid = [(l, c) for l in (0, 50, 200) for c in (16, 64, 256)] if a.grid else [(a.latency_ms, a.concurrency)]
    print(f"{'lat ms':>6} {'conc':>5} {'n':>6} {'raw s':>7} {'eh s':>7} {'raw/eh':>7} {'eh req/s':>9} "
          f"{'eh cpu/1k':>9} {'raw cpu/1k':>10} {'eh MB':>6}" + (f" {'openai s':>8} {'openai/eh':>9}" if a.openai else ""))
    for lat, conc in grid:
        r = point(lat, conc, a.n, a.reps, a.openai)
        print(f"{lat:>6g} {conc:>5} {a.n:>6} {r['raw_wall_s']:>7.2f} {r['eh_wall_s']:>7.2f} {r['ratio_raw_over_eh']:>7.2f} "
              f"{r['eh_req_per_s']:>9.0f} {r['eh_cpu_s_per_1000']:>9.2f} {r['raw_cpu_s_per_1000']:>10.2f} "
              f"{r['eh_peak_rss_mb']:>6.0f}"
              + (f" {r['openai_wall_s']:>8.2f} {r['openai_wall_s'] / r['eh_wall_s']:>9.2f}" if a.openai else ""), flush=True)


if __name__ == "__main__":
    main()
