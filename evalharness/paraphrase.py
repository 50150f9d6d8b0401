"""The `paraphrase` mutator: an LLM endpoint writes N rewrites of each seed (synthetic amplification).

It calls a model, so it runs in `evalharness generate` (the expansion is written out and reviewed)
rather than while a suite loads. Rewrites come back as structured output through the judge client;
the response cache makes a repeated generation free and identical.
"""

from __future__ import annotations

import asyncio
from functools import partial

from pydantic import BaseModel, Field

from evalharness.judges.client import Judge
from evalharness.judges.config import JudgeConfig
from evalharness.judges.templates import render


class Paraphrases(BaseModel):
    paraphrases: list[str] = Field(..., max_length=20)


async def paraphrase_all(seeds: list[dict], n: int, base_url: str, model: str, cache_dir: str | None = None,
                         response_format: str = "auto") -> tuple[list[dict], list[str]]:
    """Returns (new cases `<id>~paraphrase-<k>`, errors)."""
    from pathlib import Path

    from evalharness.engine.cache import ResponseCache, cached_complete, default_cache_dir
    from evalharness.engine.client import ChatClient

    cfg = JudgeConfig(base_url=base_url, model=model, params={"temperature": 0.7, "max_tokens": 600},
                      response_format=response_format)
    cache = ResponseCache(Path(cache_dir) if cache_dir else default_cache_dir())
    client = ChatClient(base_url, concurrency=4, timeout_s=300)
    judge = Judge("paraphrase", cfg, model, partial(cached_complete, cache, base_url, client))
    out, errors = [], []
    try:
        async def one(case: dict):
            text = case.get("input") or next((m["content"] for m in reversed(case.get("messages") or [])
                                              if m.get("role") == "user"), "")
            reply = await judge.ask(render("paraphrase.j2", input=text, n=n), Paraphrases)
            if reply.error:
                errors.append(f"{case['id']}: {reply.error}")
                return []
            rewrites = [p for p in dict.fromkeys(reply.verdict.paraphrases) if p.strip() and p != text][:n]
            return [{**{k: v for k, v in case.items() if k != "messages"}, "input": p,
                     "id": f"{case['id']}~paraphrase-{k + 1}",
                     "metadata": {**(case.get("metadata") or {}), "parent_id": case["id"], "mutator": "paraphrase"},
                     "tags": list(dict.fromkeys([*(case.get("tags") or []), "mutator:paraphrase"]))}
                    for k, p in enumerate(rewrites)]

        for batch in await asyncio.gather(*(one(c) for c in seeds)):
            out.extend(batch)
    finally:
        await client.aclose()
        cache.close()
    return out, errors
