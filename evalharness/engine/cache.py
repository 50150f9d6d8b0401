"""On-disk response cache (SQLite).

The key covers what determines the answer: base_url, model, messages, tools and params
(anything sent in the request body) and the repeat index. Transport settings (timeout,
concurrency, retries, streaming) are never part of it. Only successful responses are stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

TRANSPORT_KEYS = frozenset({"stream", "stream_options", "timeout", "user"})


def default_cache_dir() -> Path:
    env = os.environ.get("EVALHARNESS_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "evalharness"


def cache_key(base_url: str, body: dict[str, Any], repeat: int) -> str:
    content = {k: v for k, v in body.items() if k not in TRANSPORT_KEYS}
    blob = json.dumps({"base_url": base_url, "body": content, "repeat": repeat}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, directory: Path, commit_every: int = 200):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "responses.sqlite"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._pending: list[tuple[str, str]] = []
        self._commit_every = commit_every

    def get(self, key: str) -> dict[str, Any] | None:
        for k, v in reversed(self._pending):
            if k == key:
                return json.loads(v)
        row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._pending.append((key, json.dumps(value, ensure_ascii=False)))
        if len(self._pending) >= self._commit_every:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._db.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", self._pending)
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


async def cached_complete(cache: "ResponseCache | None", cache_id: str, client, body: dict[str, Any], repeat: int,
                          *, dedupe: bool | None = None, memo: bool = False):
    """One chat completion through the cache (targets and judges alike). Only successes are stored.

    `dedupe` (default: when caching): identical requests in flight at the same time are sent once and
    the others share the answer (marked cached). `memo` (judges): successful answers are also kept for
    the client's lifetime (one run), so the same judge prompt is asked once per run, cache or not.
    """
    from evalharness.engine.client import Completion

    dedupe = memo or (cache is not None if dedupe is None else dedupe)
    key = cache_key(cache_id, body, repeat) if (cache is not None or dedupe) else None
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        comp = Completion.from_cached(hit)
        if comp is not None:  # a row that does not fit is a miss: asked again, and overwritten on success
            return comp
    if not dedupe:
        return await _complete_and_store(cache, key, client, body)
    shared_map: dict = client.__dict__.setdefault("_shared", {})
    shared = shared_map.get(key)
    if shared is not None:
        comp = await asyncio.shield(shared)
        return dataclasses.replace(comp, cached=True)
    task = asyncio.ensure_future(_complete_and_store(cache, key, client, body))
    shared_map[key] = task

    def _release(t: asyncio.Future) -> None:
        failed = t.cancelled() or t.exception() is not None or t.result().error is not None
        if failed or not memo:  # errors are never memoised: a later identical request tries again
            shared_map.pop(key, None)

    task.add_done_callback(_release)
    return await asyncio.shield(task)


async def _complete_and_store(cache, key, client, body):
    comp = await client.complete(body)
    if cache is not None and key and comp.error is None:
        cache.put(key, comp.cacheable())
    return comp
