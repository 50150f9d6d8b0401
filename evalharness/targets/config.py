"""Target configuration: CLI flags or a targets YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator

from evalharness.engine.response import DEFAULT_MAX_RESPONSE_BYTES
from evalharness.judges.config import JudgeConfig, check_base_url
from evalharness.suite.errors import Problem, SuiteError
from evalharness.suite.model import Strict
from evalharness.suite.yamlsrc import load_yaml, read_text

RECORDED = "recorded"  # built-in target: score the cases' recorded outputs, call no model
LOCAL = "local"  # built-in target: the embedded llama.cpp server with Gemma 3 270M
GUARDED = "guarded"  # built-in target: the guard proxy (--guard-policy) in front of --base-url or the local model


class TargetConfig(Strict):
    name: str = Field(..., min_length=1)
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(None, description="name of the environment variable holding the API key")
    params: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(16, ge=1, le=4096)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=1024,
                                    description="a response body over this many bytes is recorded as an error")

    _url = field_validator("base_url")(classmethod(lambda cls, v: check_base_url(v)))

    @property
    def kind(self) -> str:
        if self.name == RECORDED:
            return RECORDED
        if self.base_url is None:
            return LOCAL
        return "http"

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if key is None:
            raise SuiteError([Problem("target " + self.name, None, "api_key_env",
                                      f"environment variable {self.api_key_env} is not set")])
        return key

    def public(self) -> dict[str, Any]:
        """What may be written to the manifest: never the key, only the variable's name."""
        d = self.model_dump()
        d["base_url"] = redact_url(self.base_url)
        return d


def redact_url(url: str | None) -> str | None:
    if not url:
        return url
    p = urlsplit(url)
    if p.username or p.password:
        host = p.hostname or ""
        if p.port:
            host += f":{p.port}"
        p = p._replace(netloc=f"***@{host}")
    return urlunsplit(p)


class TargetsFile(Strict):
    targets: list[TargetConfig] = Field(default_factory=list)
    judges: dict[str, JudgeConfig] | None = None


def load_targets(path: str | Path) -> dict[str, TargetConfig]:
    return load_targets_file(path)[0]


def load_targets_file(path: str | Path) -> tuple[dict[str, TargetConfig], dict[str, JudgeConfig]]:
    path = Path(path)
    if not path.is_file():
        raise SuiteError([Problem(str(path), None, "", "targets file not found")])
    src, problems = load_yaml(read_text(path), str(path))
    if src is None or problems:
        raise SuiteError(problems)
    try:
        tf = TargetsFile.model_validate(src.data)
    except ValidationError as e:
        raise SuiteError(src.problems(e)) from None
    out: dict[str, TargetConfig] = {}
    for i, t in enumerate(tf.targets):
        if t.name in out:
            problems.append(Problem(str(path), src.line(("targets", i, "name")), f"targets[{i}].name",
                                    f"duplicate target name '{t.name}'"))
        if t.name in (RECORDED, LOCAL, GUARDED):
            problems.append(Problem(str(path), src.line(("targets", i, "name")), f"targets[{i}].name",
                                    f"'{t.name}' is a built-in target name"))
        if t.base_url is None or t.model is None:
            problems.append(Problem(str(path), src.line(("targets", i)), f"targets[{i}]",
                                    "a target needs `base_url` and `model`"))
        out[t.name] = t
    if problems:
        raise SuiteError(problems)
    return out, dict(tf.judges or {})
