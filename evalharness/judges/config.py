"""Which endpoint judges: `judges:` in a suite or a targets file, or --judge-base-url/--judge-model."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from evalharness.strict import Strict

DEFAULT_JUDGE = "default"


class JudgeConfig(Strict):
    base_url: str | None = Field(None, description="OpenAI-compatible base URL; omit for the embedded local model")
    model: str | None = None
    api_key_env: str | None = Field(None, description="name of the environment variable holding the API key")
    params: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0, "max_tokens": 512},
                                   description="generation params (a verdict longer than max_tokens is a judge error)")
    concurrency: int = Field(4, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    response_format: str = Field(
        "auto", pattern="^(auto|json_schema|json_object|none)$",
        description="how to ask for structured output: OpenAI json_schema, llama.cpp json_object+schema, "
        "none (prompt only), or auto (json_schema, then json_object if the server refuses it)",
    )

    _url = field_validator("base_url")(classmethod(lambda cls, v: check_base_url(v)))


def check_base_url(v: str | None) -> str | None:
    """An http(s) URL with a host, without the trailing slash (shared by targets and judges)."""
    from urllib.parse import urlsplit

    from evalharness.redact import redact, register_url

    if v is None:
        return v
    register_url(v)  # its userinfo is a credential: never written anywhere (evalharness/redact.py)
    try:
        parts = urlsplit(v)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {redact(v)!r}")
    return v.rstrip("/")
