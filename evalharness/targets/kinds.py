"""Target kinds: each knows how to start itself and what endpoint it gives.

| kind | what it is | started by |
|---|---|---|
| `http` | any OpenAI-compatible endpoint (`--base-url`, a targets file) | nothing to start |
| `recorded` | the cases' recorded `output` / `tool_calls`; no model | nothing to start |
| `local` (`local-gemma`), `local-smol` | the embedded llama.cpp models: Gemma 3 270M (base) and SmolLM2-135M-Instruct | `Launcher.embedded()`, once per run and model |
| `serve:llamacpp`, `serve:vllm` | `--serve BACKEND:MODEL` | a managed server on a free loopback port |
| `guarded` | the guard proxy (`--guard-policy`) in front of an upstream (`--base-url` or the embedded model) | `python -m evalharness.guard` as a managed server |

A `Launcher` belongs to one run: every server it starts is stopped when the run's ExitStack closes (and dies
with the run's process, see evalharness/procs.py). The embedded model is started at most once per run and
shared by the `local` target, a `guarded` target without `--base-url`, and judges without an endpoint.
Plugins add kinds through the `evalharness.targets` entry-point group (a class with `kind` and `start`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from evalharness.errors import ConfigError, InfraError
from evalharness.targets.config import GUARDED, LOCAL, RECORDED, TargetConfig

LOCAL_MODEL_NAME = "gemma-3-270m-q4_k_m"
SMOL_MODEL_NAME = "smollm2-135m-instruct-q4_1"
LOCAL_GEMMA, LOCAL_SMOL = "local-gemma", "local-smol"
# llama-cpp-python's server answers one request at a time: more in flight would only queue
# (and run into timeouts); 2 keeps the next request ready.
LOCAL_DEFAULTS = {"concurrency": 2, "timeout_s": 300.0}


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None  # None: no model is called (recorded)
    cache_id: str | None  # what the response cache keys on: the URL, or what is served on a random port
    served: str | None = None  # what a managed server serves (for run.json)


# The embedded judge (a judge with no base_url): the instruct model unless the judge's `model` names Gemma.
EMBEDDED_JUDGE = "smol"


def embedded_which(model: str | None, judge: str = "default") -> str:
    """Which embedded model a judge with no base_url runs on: `local-gemma` (or Gemma's name) is Gemma;
    no model, `local`, `local-smol` (or SmolLM2's name) is SmolLM2. Any other name is a configuration
    error: without a base_url it would silently be judged by an embedded model it does not name."""
    if model in (LOCAL_GEMMA, LOCAL_MODEL_NAME):
        return "gemma"
    if model in (None, LOCAL, LOCAL_SMOL, SMOL_MODEL_NAME):
        return EMBEDDED_JUDGE
    raise ConfigError.one(f"judge {judge!r}", "model", f"{model!r} is not an embedded model (local-smol, local-gemma) "
                          "and the judge has no base_url: give its base_url (or --judge-base-url)")


def embedded_threads(servers: int) -> int:
    """llama.cpp threads per embedded server: the cores split between the servers that run side by side
    (their threads spin while they wait, so more would slow each other down), or EVALHARNESS_EMBEDDED_THREADS."""
    raw = os.environ.get("EVALHARNESS_EMBEDDED_THREADS", "").strip()
    if not raw:
        return max(1, (os.cpu_count() or 1) // max(1, servers))
    if not raw.isdigit() or not 0 < int(raw) <= 1024:
        raise ConfigError.one("EVALHARNESS_EMBEDDED_THREADS", "", f"{raw!r}: expected a whole number of threads, 1-1024")
    return int(raw)


def embedded_models(targets, judge_configs: dict) -> int:
    """How many embedded model servers a run will start (they then share the cores)."""
    which = {t.kind.which for t in targets if isinstance(t.kind, LocalTarget)}
    which |= {"gemma" for t in targets if isinstance(t.kind, GuardedTarget) and t.kind.upstream is None}
    which |= {embedded_which(c.model, name) for name, c in judge_configs.items() if c.base_url is None}
    return len(which)


class Launcher:
    """Starts a run's managed servers (each once), logs them to the run folder, stops them with the run."""

    def __init__(self, stack: contextlib.ExitStack, run_dir: Path, *, embedded_models: int = 1):
        self.stack, self.run_dir = stack, run_dir
        self.servers: list = []  # ManagedServer, for death notices at the end of the run
        self._embedded: dict[str, Endpoint] = {}
        self.embedded_threads = embedded_threads(embedded_models)  # benchmarks/main_job.py compares the splits

    def start(self, label: str, command_for_port, *, log_name: str, startup_timeout_s: float = 300.0):
        """Start `command_for_port(port)` on a free loopback port; return the healthy ManagedServer."""
        from evalharness.targets.serve import ManagedServer, ServeError, free_port

        port = free_port()
        log = self.run_dir / log_name
        print(f"starting {label} on 127.0.0.1:{port} (log: {log})", file=sys.stderr, flush=True)
        try:
            server = self.stack.enter_context(ManagedServer(command_for_port(port), port, log,
                                                            startup_timeout_s=startup_timeout_s))
        except ServeError as e:
            raise InfraError(str(e)) from None
        self.servers.append(server)
        return server

    def llamacpp(self, label: str, model_path: Path | str, alias: str, log_name: str, **options):
        """The one llama.cpp launcher."""
        from evalharness.targets.serve import llamacpp_command

        return self.start(label, lambda port: llamacpp_command(model_path, port, alias=alias, **options),
                          log_name=log_name)

    def embedded(self, which: str = "gemma") -> Endpoint:
        """An embedded model's endpoint, its server started on first use: `gemma` (Gemma 3 270M, base; the
        default target and judge) or `smol` (SmolLM2-135M-Instruct, with the chat template in its GGUF)."""
        if which not in self._embedded:
            from evalharness.targets.serve import ServeError, embedded_model_path, smol_model_path

            try:
                path = embedded_model_path() if which == "gemma" else smol_model_path()
            except ServeError as e:
                raise InfraError(str(e)) from None
            if which == "gemma":
                server = self.llamacpp("the embedded model", path, LOCAL_MODEL_NAME, "server-local.log",
                                       threads=self.embedded_threads)
            else:
                server = self.llamacpp("the embedded instruct model", path, SMOL_MODEL_NAME, "server-local-smol.log",
                                       chat_format=None, threads=self.embedded_threads)
            # The port is random: key the cache on what is served, not where.
            self._embedded[which] = Endpoint(server.base_url, f"llamacpp:{path}", f"llamacpp:{path}")
        return self._embedded[which]


class TargetKind(Protocol):
    kind: ClassVar[str]

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint: ...


class HttpTarget:
    kind = "http"

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint:
        return Endpoint(config.base_url, config.base_url)


class RecordedTarget:
    kind = RECORDED

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint:
        return Endpoint(None, None)


@dataclass(frozen=True)
class LocalTarget:
    which: str = "gemma"  # gemma | smol
    kind: ClassVar[str] = LOCAL

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint:
        return launcher.embedded(self.which)


@dataclass(frozen=True)
class ServeTarget:
    spec: object  # targets.serve.ServeSpec
    kind: ClassVar[str] = "serve"

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint:
        from evalharness.targets.serve import ServeError

        spec = self.spec
        try:
            spec.check()
        except ServeError as e:
            raise InfraError(str(e)) from None
        server = launcher.start(f"model server for target '{config.name}'", spec.command,
                                log_name=f"server-{config.name}.log")
        served = f"{spec.backend}:{spec.model}"
        return Endpoint(server.base_url, served, served)


@dataclass(frozen=True)
class GuardedTarget:
    policy: str  # the guard policy file
    upstream: str | None  # --base-url, or None for the embedded model
    kind: ClassVar[str] = GUARDED

    def start(self, config: TargetConfig, launcher: Launcher) -> Endpoint:
        upstream = self.upstream or launcher.embedded().base_url
        log_dir = launcher.run_dir / "guard-log"

        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "evalharness.guard", "--upstream", upstream, "--policy", self.policy,
                    "--port", str(port), "--log-dir", str(log_dir)]

        server = launcher.start("the guard proxy", command, log_name="server-guarded.log", startup_timeout_s=60)
        policy_hash = hashlib.sha256(Path(self.policy).read_bytes()).hexdigest()[:16]
        return Endpoint(server.base_url, f"guarded:{policy_hash}:{self.upstream or 'local'}")


BUILT_IN_KINDS: dict[str, type] = {"http": HttpTarget, RECORDED: RecordedTarget, LOCAL: LocalTarget,
                                   "serve": ServeTarget, GUARDED: GuardedTarget}
