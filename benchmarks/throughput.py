"""evalharness against the raw client, alternating, against the same stub: medians and ratios.

    python benchmarks/throughput.py [--latency-ms 50] [--concurrency 64] [--n 2000] [--reps 3]
    python benchmarks/throughput.py --grid     # latency 0/50/200 x concurrency 16/64/256 (slow)

Each run is a separate process, timed whole (imports, Parquet writing and scoring included);
CPU seconds and peak RSS come from the process's own resource usage. Two figures per client:
- process: the whole process's wall time;
- phase (throughput): first request to last response, which the raw client prints and evalharness
  records in run.json (`timing.request_phase_s`); requests/s is N over this phase.
The raw client runs on asyncio's loop (the plain loop the issue names) and again on uvloop, the loop
evalharness uses by default (`uv` columns), so neither floor flatters evalharness.
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


def run_json(out: Path) -> dict:
    (path,) = out.glob("*/run.json")
    return json.loads(path.read_text())


def point(latency_ms: float, concurrency: int, n: int, reps: int, openai: bool = False) -> dict:
    """Medians of (process wall s, CPU s, peak RSS MB, request-phase s) for each client."""
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    port = int(stub.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}/v1"
    time.sleep(1.0)
    res: dict[str, list] = {"raw": [], "raw_uvloop": [], "evalharness": [], "openai": []}

    def raw(*extra: str) -> tuple:
        r = timed([sys.executable, str(HERE / "raw_client.py"), "--base-url", base, "--n", str(n),
                   "--concurrency", str(concurrency), *extra])
        out = json.loads(r[3])
        assert out["correct"] == n, out
        return (*r[:3], out["wall_s"])

    try:
        with tempfile.TemporaryDirectory() as td:
            suite = suite_file(n, Path(td))
            for rep in range(reps):
                res["raw"].append(raw())
                out = Path(td) / f"r{rep}"
                eh = timed([sys.executable, "-m", "evalharness.cli", "run", str(suite), "--base-url", base, "--model", "m",
                            "--concurrency", str(concurrency), "--no-cache", "--out", str(out)])
                manifest = run_json(out)
                assert manifest["counts"]["responses"] == n and manifest["counts"]["errors"] == 0, manifest["counts"]
                res["evalharness"].append((*eh[:3], manifest["timing"]["request_phase_s"]))
                res["raw_uvloop"].append(raw("--loop", "uvloop"))
                if openai:  # the plain AsyncOpenAI loop the issue names as its reference
                    res["openai"].append(raw("--client", "openai"))
    finally:
        stub.terminate()
        stub.wait()
    med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in res.items() if v}
    eh, rw, uv = med["evalharness"], med["raw"], med["raw_uvloop"]
    return {"latency_ms": latency_ms, "concurrency": concurrency, "n": n, "reps": reps,
            "raw_wall_s": rw[0], "eh_wall_s": eh[0], "ratio_raw_over_eh": rw[0] / eh[0],
            "raw_phase_s": rw[3], "eh_phase_s": eh[3], "phase_ratio": rw[3] / eh[3],
            "raw_uvloop_wall_s": uv[0], "ratio_raw_uvloop_over_eh": uv[0] / eh[0],
            "eh_req_per_s": n / eh[3], "raw_req_per_s": n / rw[3],
            "eh_cpu_s_per_1000": 1000 * eh[1] / n, "raw_cpu_s_per_1000": 1000 * rw[1] / n,
            "raw_uvloop_cpu_s_per_1000": 1000 * uv[1] / n,
            "eh_peak_rss_mb": eh[2], "raw_peak_rss_mb": rw[2],
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
    print("process: whole-process wall s; phase: first request to last response (eh: run.json timing, raw: its loop)")
    print(f"{'lat ms':>6} {'conc':>5} {'n':>6} {'raw s':>6} {'eh s':>6} {'raw/eh':>6} {'raw ph':>6} {'eh ph':>6} "
          f"{'ph r/eh':>7} {'uv s':>6} {'uv/eh':>6} {'eh req/s':>8} {'cpu/1k eh':>9} {'raw':>5} {'uv':>5} {'eh MB':>6}"
          + (f" {'openai s':>8} {'openai/eh':>9}" if a.openai else ""))
    for lat, conc in grid:
        r = point(lat, conc, a.n, a.reps, a.openai)
        print(f"{lat:>6g} {conc:>5} {a.n:>6} {r['raw_wall_s']:>6.2f} {r['eh_wall_s']:>6.2f} {r['ratio_raw_over_eh']:>6.2f} "
              f"{r['raw_phase_s']:>6.2f} {r['eh_phase_s']:>6.2f} {r['phase_ratio']:>7.2f} "
              f"{r['raw_uvloop_wall_s']:>6.2f} {r['ratio_raw_uvloop_over_eh']:>6.2f} {r['eh_req_per_s']:>8.0f} "
              f"{r['eh_cpu_s_per_1000']:>9.2f} {r['raw_cpu_s_per_1000']:>5.2f} {r['raw_uvloop_cpu_s_per_1000']:>5.2f} "
              f"{r['eh_peak_rss_mb']:>6.0f}"
              + (f" {r['openai_wall_s']:>8.2f} {r['openai_wall_s'] / r['eh_wall_s']:>9.2f}" if a.openai else ""), flush=True)


if __name__ == "__main__":
    main()
