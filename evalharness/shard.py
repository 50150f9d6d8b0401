"""Deterministic sharding (`--shard i/n`, `--shard auto`) and merging shard runs into one."""

from __future__ import annotations

import hashlib
import os


def parse_shard(spec: str | None, env: dict[str, str] | None = None) -> tuple[int, int] | None:
    """(index, count), 1-based index. `auto` reads the scheduler's environment."""
    if not spec:
        return None
    env = dict(os.environ if env is None else env)
    if spec == "auto":
        if env.get("EVALHARNESS_SHARD"):  # e.g. a GitHub Actions matrix: EVALHARNESS_SHARD: ${{ matrix.shard }}/8
            spec = env["EVALHARNESS_SHARD"]
        elif "JOB_COMPLETION_INDEX" in env:  # Kubernetes Indexed Job (0-based) + the job's completions count
            count = env.get("EVALHARNESS_SHARD_COUNT") or env.get("JOB_COMPLETIONS")
            if not count:
                raise ValueError("Kubernetes Indexed Job: set EVALHARNESS_SHARD_COUNT to the job's `completions`")
            spec = f"{int(env['JOB_COMPLETION_INDEX']) + 1}/{count}"
        elif "SLURM_ARRAY_TASK_ID" in env:  # Slurm job array
            base = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            spec = f"{int(env['SLURM_ARRAY_TASK_ID']) - base + 1}/{env['SLURM_ARRAY_TASK_COUNT']}"
        else:
            raise ValueError("--shard auto: no EVALHARNESS_SHARD, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID in the environment")
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects i/n (e.g. 2/8) or auto, got {spec!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ValueError(f"--shard {spec}: need 1 <= i <= n")
    return i, n


def in_shard(suite: str, case_id: str, shard: tuple[int, int]) -> bool:
    i, n = shard
    digest = hashlib.sha256(f"{suite}\x1f{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == i - 1
