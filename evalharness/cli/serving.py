"""Long-running processes: the guard proxy, the UI, the embedded model server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from evalharness.cli.common import app, fail_config


@app.command()
def guard(
    upstream: str = typer.Option(..., "--upstream", help="OpenAI-compatible base URL to protect, e.g. http://127.0.0.1:8000/v1"),
    policy: str = typer.Option(..., "--policy", help="guard policy YAML (input_rails, output_rails, ...)"),
    port: int = typer.Option(8080, "--port"),
    host: str = typer.Option("127.0.0.1", "--host", help="bind address (loopback by default)"),
    log_dir: Optional[str] = typer.Option(None, "--log-dir", help="decision log folder (overrides the policy's log_dir)"),
    workers: str = typer.Option("1", "--workers", help="guard processes on the port (SO_REUSEPORT, Linux); `auto`: one per CPU"),
) -> None:
    """Serve an OpenAI-compatible proxy that applies the policy's input and output rails around --upstream."""
    from evalharness.guard.server import serve
    from evalharness.guard.workers import resolve_workers
    from evalharness.errors import ConfigError

    try:
        n_workers = resolve_workers(workers)
    except ValueError as e:
        fail_config(e)
    try:
        serve(upstream, policy, host=host, port=port, log_dir=log_dir, workers=n_workers)
    except ConfigError as e:
        fail_config(e)
    except RuntimeError as e:
        fail_config(e)


@app.command()
def ui(
    reports: Path = typer.Option(Path("reports"), "--reports", help="the reports directory to read"),
    port: int = typer.Option(8501, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind; anything but loopback exposes the UI"),
) -> None:
    """Start the comparison UI (Streamlit) on 127.0.0.1. It reads reports/ and never calls a model."""
    import importlib.util
    from importlib import resources

    from evalharness import procs

    if importlib.util.find_spec("streamlit") is None:
        fail_config(RuntimeError("the UI needs Streamlit: pip install 'evalharness[ui]'"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: binding to {host}: the UI will be reachable from other machines", err=True)
    # The app ships inside the package (evalharness.app, mapped from the top-level app/ at build time).
    with resources.as_file(resources.files("evalharness.app") / "main.py") as app_file:
        if not app_file.is_file():
            fail_config(RuntimeError(f"the app is not at {app_file}: reinstall evalharness"))
        cmd = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.address", host,
               "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--global.developmentMode", "false",
               "--client.toolbarMode", "minimal"]
        env = {**os.environ, "EVALHARNESS_REPORTS": str(reports.resolve())}
        typer.echo(f"evalharness UI on http://{host}:{port}/ reading {reports.resolve()}")
        # Streamlit is the whole job: SIGTERM/SIGINT/SIGHUP are passed on to it, and it dies with us.
        raise typer.Exit(procs.run_foreground(cmd, env=env))


@app.command("serve")
def serve_(
    what: str = typer.Argument("local-gemma", help="what to serve: local-gemma (Gemma 3 270M, base) or local-smol "
                                                 "(SmolLM2-135M-Instruct); `local` is local-gemma"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Run an embedded llama.cpp model in the foreground on 127.0.0.1 (Ctrl-C stops it)."""
    from evalharness import procs
    from evalharness.targets.kinds import LOCAL_MODEL_NAME, SMOL_MODEL_NAME
    from evalharness.targets.serve import ServeError, embedded_model_path, llamacpp_command, smol_model_path

    if what not in ("local", "local-gemma", "local-smol"):
        fail_config(ValueError(f"cannot serve {what!r}; only local-gemma or local-smol "
                               "(use `run --serve` for your own model)"))
    smol = what == "local-smol"
    name = SMOL_MODEL_NAME if smol else LOCAL_MODEL_NAME
    try:
        cmd = (llamacpp_command(smol_model_path(), port, alias=name, chat_format=None) if smol
               else llamacpp_command(embedded_model_path(), port, alias=name))
    except ServeError as e:
        fail_config(e)
    print(f"serving {name} at http://127.0.0.1:{port}/v1", file=sys.stderr)
    # The server is the whole job: SIGTERM/SIGINT/SIGHUP are passed on to it, and it dies with us.
    raise typer.Exit(procs.run_foreground(cmd))
