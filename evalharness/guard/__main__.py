"""`python -m evalharness.guard`: the guard proxy as a process of its own (how a run's `guarded` target
starts it). The same `serve` as `evalharness guard`; errors are one line and exit 2."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalharness.guard")
    p.add_argument("--upstream", required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--log-dir", default=None)
    p.add_argument("--workers", default="1")
    a = p.parse_args(argv)
    from evalharness.errors import ConfigError
    from evalharness.guard.server import serve
    from evalharness.guard.workers import resolve_workers

    try:
        serve(a.upstream, a.policy, host=a.host, port=a.port, log_dir=a.log_dir, workers=resolve_workers(a.workers))
    except (ConfigError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
