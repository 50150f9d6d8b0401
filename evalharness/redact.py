"""Secrets never reach an output.

Every credential the process learns (an API key read from the variable a target or judge names, the
userinfo of a URL) is registered here, with the forms it can come back in: as written, URL-encoded,
and inside an HTTP Basic header (base64 of `user:password`). `redact()` replaces all of them, and
also any `Authorization` value, bearer or basic token and URL userinfo whatever its origin, so an
endpoint that echoes a header it was sent cannot put the key into a result.

The places that write call `redact()`: the HTTP client on every completion and error it returns
(so Parquet, the cache, the reports and the UI only ever see redacted text), run.json, the error
log, and stdout/stderr (the CLI wraps both streams).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
# Shorter values would mask ordinary words; no real key is this short.
MIN_SECRET_LEN = 6

_known: set[str] = set()
_by_length: list[str] = []  # longest first, so a secret that contains another is masked whole

# Values whatever their origin: an Authorization header (JSON or HTTP form), a bearer or basic
# token, a URL's userinfo, an api_key field.
_PATTERNS = (
    re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:[a-z][a-z0-9_-]*\s+)?)[^\s\"',;}\]]+"),
    # A scheme as HTTP writes it, then a token-shaped word (a digit or base64 padding in it), so that
    # "basic understanding" in a model's answer stays as it is.
    re.compile(r"(\b(?:Bearer|Basic|Token|bearer|basic|token)\s+)(?=[A-Za-z0-9._~+/-]*[0-9=])[A-Za-z0-9._~+/=-]{8,}"),
    # The scheme is bounded: an unbounded one backtracks from every word boundary (quadratic time).
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]{0,31}://)[^/\s@:\"']+(?::[^\s@\"']*)?(?=@)"),
    re.compile(r"(?i)(\b(?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}\]]+"),
)
# scheme://USERINFO@host[:port]: the userinfo may hold a "/" (where urlsplit gives up), not a "?" or "#".
_USERINFO = re.compile(r"(?i)^\s*[a-z][a-z0-9+.-]{0,31}://([^@\s?#]+)@(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d+)?(?:[/?#]|$)")
# One cheap search decides whether the patterns need to run at all (most outputs hold none of these).
_TRIGGER = re.compile(r"(?i)authorization|bearer|basic|token|api[_-]?key|://")


def register(secret: str | None) -> None:
    """Remember a credential (and the forms it may be echoed in) for `redact`."""
    if not secret or len(secret) < MIN_SECRET_LEN or secret in _known:
        return
    # As written, URL-encoded, in an HTTP Basic header, and as it appears inside JSON text (an error body
    # that echoes it escapes quotes and backslashes).
    forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    _known.update(f for f in forms if len(f) >= MIN_SECRET_LEN)
    _by_length[:] = sorted(_known, key=len, reverse=True)


def register_url(url: str | None) -> None:
    """Remember the userinfo of a URL: the password, `user:password` and its HTTP Basic form."""
    if not url:
        return
    m = _USERINFO.match(url)
    if m:  # everything up to the last "@" of the authority, even where urlsplit stops at a "/" in a password
        register(unquote(m.group(1)))
        user, sep, password = m.group(1).partition(":")
        if sep:
            register(unquote(password))
            register(f"{unquote(user)}:{unquote(password)}")
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if password:
        user, password = unquote(user or ""), unquote(password)
        register(password)
        register(f"{user}:{password}")
    elif user:
        register(unquote(user))  # a token given as the user name


def strip_userinfo(url: str | None) -> str | None:
    """The URL as stored: without `user:password@`."""
    if not url:
        return url
    m = _USERINFO.match(url)
    if m:
        return url[:m.start(1)] + url[m.end(1) + 1:]
    try:
        p = urlsplit(url)
        if "@" not in p.netloc:
            return url
        host = p.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if p.port:
            host += f":{p.port}"
        return urlunsplit(p._replace(netloc=host))
    except ValueError:
        return redact(url)


def redact(text: str) -> str:
    """`text` with every registered secret and every credential-shaped value replaced by ***."""
    if not isinstance(text, str) or not text:
        return text
    for s in _by_length:
        if s in text:
            text = text.replace(s, MASK)
    if _TRIGGER.search(text):
        for pat in _PATTERNS:
            text = pat.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_obj(obj: Any) -> Any:
    """A copy of JSON-like data with every string (keys included) redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_obj(k): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


class RedactingStream:
    """A text stream that redacts what is written to it (the CLI's stdout and stderr)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
