"""Target configuration: CLI flags or a targets YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from evalharness.judges.config import JudgeConfig, check_base_url
from evalharness.errors import ConfigError, Problem
from evalharness.strict import Strict

RECORDED = "recorded"  # built-in target: score the cases' recorded outputs, call no model
LOCAL = "local"  # built-in target: both embedded llama.cpp models (local-smol and local-gemma)
GUARDED = "guarded"  # built-in target: the guard proxy (--guard-policy) in front of --base-url or the local model

BUILT_IN = (RECORDED, LOCAL, GUARDED, "local-gemma", "local-smol")
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a response body over this is recorded as an error


class TargetConfig(Strict):
    name: str = Field(..., min_length=1)
    kind: str = Field("http", description="http (an OpenAI-compatible endpoint) or a target kind from a plugin "
                                          "(entry-point group `evalharness.targets`)")
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(None, description="name of the environment variable holding the API key")
    params: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(16, ge=1, le=4096)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=1024,
                                    description="a response body over this many bytes is recorded as an error")
    size: str | None = Field(None, pattern=r"^\s*\d+(\.\d+)?\s*[kKmMbBtT]?\s*$",
                             description="parameter count, e.g. 135M or 7B: the right-size verdict picks the smallest "
                                         "target that meets a category's gates")

    tokenizer: str | None = Field(None, description="a local tokenizer directory (transformers; `pip install -e "
                                  "'.[hf]'`): counts the tokens of responses whose endpoint reports no `usage`")

    _url = field_validator("base_url")(classmethod(lambda cls, v: check_base_url(v)))

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_dir(cls, v: str | None) -> str | None:
        """An absolute path (run.json keeps it, and a run resumes from any directory)."""
        if v is None:
            return v
        if not v.strip() or "\x00" in v:
            raise ValueError("must be a directory path")
        return str(Path(v).expanduser().resolve())

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if key is None:
            raise ConfigError([Problem("target " + self.name, None, "api_key_env",
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
    """A targets YAML file (read by lifecycle/configure.py)."""
    targets: list[TargetConfig] = Field(default_factory=list)
    judges: dict[str, JudgeConfig] | None = None
