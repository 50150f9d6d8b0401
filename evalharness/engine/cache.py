"""On-disk response cache (SQLite).

The key covers what determines the answer: base_url, model, messages, tools and params
(anything sent in the request body) and the repeat index. Transport settings (timeout,
concurrency, retries, streaming) are never part of it. Only successful responses are stored.
"""

from __future__ import annotations

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


async def cached_complete(cache: "ResponseCache | None", cache_id: str, client, body: dict[str, Any], repeat: int):
    """One chat completion through the cache (targets and judges alike). Only successes are stored."""
    from evalharness.engine.client import Completion

    key = cache_key(cache_id, body, repeat) if cache is not None else None
    hit = cache.get(key) if key else None
    if hit is not None:
        return Completion(**hit, cached=True)
    comp = await client.complete(body)
    if key and comp.error is None:
        cache.put(key, comp.cacheable())
    return comp
