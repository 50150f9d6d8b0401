"""Start the run's targets and judges (each kind starts itself) and give each a pooled client."""

from __future__ import annotations

import asyncio

from evalharness.errors import InfraError
from evalharness.targets.kinds import LOCAL_MODEL_NAME, SMOL_MODEL_NAME, Launcher, embedded_which


def start_targets(targets, launcher: Launcher, *, stream: bool) -> list:
    """lifecycle.configure.Target list -> TargetRuntime list (a recorded target has no client)."""
    from evalharness.engine.client import ChatClient
    from evalharness.engine.runner import TargetRuntime

    runtimes = []
    for t in targets:
        ep = t.kind.start(t.config, launcher)
        if ep.base_url is None:
            runtimes.append(TargetRuntime(t.config, None))
            continue
        c = t.config.model_copy(update={"base_url": ep.base_url})
        client = ChatClient(ep.base_url, api_key=c.api_key(), concurrency=c.concurrency, timeout_s=c.timeout_s,
                            max_retries=c.max_retries, stream=stream, max_response_bytes=c.max_response_bytes)
        runtimes.append(TargetRuntime(c, client, cache_id=ep.cache_id))
    return runtimes


def start_judges(configs: dict, launcher: Launcher) -> dict:
    """name -> TargetRuntime per judge. A judge with no base_url is an embedded model: SmolLM2-135M-Instruct,
    or Gemma 3 270M when its `model` is `local-gemma` (shared with the run's target of that model)."""
    from evalharness.engine.client import ChatClient
    from evalharness.engine.runner import TargetRuntime
    from evalharness.targets.config import TargetConfig

    out = {}
    for name, cfg in configs.items():
        if cfg.base_url is None:
            which = embedded_which(cfg.model, name)
            ep = launcher.embedded(which)
            base_url, cache_id = ep.base_url, ep.cache_id
            model = LOCAL_MODEL_NAME if which == "gemma" else SMOL_MODEL_NAME
            style = "json_object" if cfg.response_format == "auto" else cfg.response_format
            # llama.cpp's own structured-output form (no probing); it answers one request at a time.
            cfg = cfg.model_copy(update={"response_format": style, "concurrency": min(cfg.concurrency, 2),
                                         "timeout_s": max(cfg.timeout_s, 600.0)})
        else:
            base_url, cache_id, model = cfg.base_url, cfg.base_url, cfg.model
        tc = TargetConfig(name=f"judge:{name}", base_url=base_url, model=model, api_key_env=cfg.api_key_env,
                          params=cfg.params, concurrency=cfg.concurrency, timeout_s=cfg.timeout_s,
                          max_retries=cfg.max_retries)
        client = ChatClient(base_url, api_key=tc.api_key(), concurrency=cfg.concurrency, timeout_s=cfg.timeout_s,
                            max_retries=cfg.max_retries)
        rt = TargetRuntime(tc, client, cache_id=cache_id)
        rt.judge_config = cfg
        out[name] = rt
    return out


def judge_services(judge_rts: dict, cache, baseline: dict, reference=None):
    """The judges as scorers see them (Sample.services): each a `Judge` over a cached completion call."""
    from functools import partial

    from evalharness.engine.cache import cached_complete
    from evalharness.judges.client import Judge, JudgeServices

    judges = {name: Judge(name, rt.judge_config, rt.model,
                          partial(cached_complete, cache, rt.cache_id, rt.client, memo=True))
              for name, rt in judge_rts.items()}
    return JudgeServices(judges, baseline=baseline, reference=reference)


async def probe(runtimes) -> None:
    """Ask each target for /models: records the served model id; unreachable -> InfraError."""
    from evalharness.engine.client import Unreachable

    async def one(t):
        try:
            ids = await t.client.served_models()
        except Unreachable as e:
            raise InfraError(f"target '{t.name}' is unreachable at {t.config.public()['base_url']}: "
                             f"{type(e).__name__}: {t.client.scrub(str(e))}") from None
        if ids:
            t.served_model = t.config.model if t.config.model in ids else ids[0]

    await asyncio.gather(*(one(t) for t in runtimes if t.client is not None))
