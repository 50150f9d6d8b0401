"""The markers around judged text in a judge prompt: delimiter-like runs inside the text neutralised,
and a nonce the text's author cannot compute (judges/templates.py `untrusted`)."""

from __future__ import annotations

import re

from evalharness.judges.normalise import FORMAT_CHARS

_ANGLES = "<>\uff1c\uff1e\ufe64\ufe65\u2039\u203a\u00ab\u00bb\u276e\u276f\u27e8\u27e9\u3008\u3009\u2329\u232a\u02c2\u02c3\u1438\u1433"
_ANGLE_RUN = re.compile(f"[{_ANGLES}](?:[\\s{_ANGLES}]*[{_ANGLES}])+")
_NONCE_KEY: bytes | None = None


def neutralise(text: str) -> str:
    """The judged text cannot open or close a marker: format characters (zero-width, bidi controls) are
    removed, and every run of two or more angle brackets or look-alikes (`<<`, `＞＞`, `«‹`) is replaced by
    a single space, so neither `<<<END ANSWER ...>>>` nor a disguised form of it survives."""
    return _ANGLE_RUN.sub(" ", FORMAT_CHARS.sub("", text))


def _nonce_key() -> bytes:
    """The secret the nonces are derived with: EVALHARNESS_JUDGE_NONCE_KEY, else a random key kept (0600) in
    the cache directory, so identical judge prompts stay identical across runs and the response cache works;
    else a random key for this process. Nobody who writes the judged text knows it."""
    global _NONCE_KEY
    if _NONCE_KEY is not None:
        return _NONCE_KEY
    import os
    import secrets
    from pathlib import Path

    env = os.environ.get("EVALHARNESS_JUDGE_NONCE_KEY")
    if env:
        _NONCE_KEY = env.encode()
        return _NONCE_KEY
    base = os.environ.get("EVALHARNESS_CACHE_DIR")
    directory = Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evalharness"
    path = directory / "judge-nonce.key"
    try:
        key = path.read_bytes()
        if len(key) < 16:
            raise OSError("short key")
    except OSError:
        key = secrets.token_bytes(32)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
        except FileExistsError:
            try:
                key = path.read_bytes() or key
            except OSError:
                pass
        except OSError:
            pass  # read-only home: a key for this process only (the judge cache then lasts one run)
    _NONCE_KEY = key
    return key


def nonce(text: str, label: str) -> str:
    """The marker nonce for one piece of judged text. EVALHARNESS_JUDGE_NONCE=random: a fresh random nonce on
    every render (no two judge prompts are then alike, so judge calls are never cached). Otherwise a keyed hash
    of the text: unpredictable to whoever wrote the text, stable for the response cache."""
    import hashlib
    import hmac
    import os
    import secrets

    if os.environ.get("EVALHARNESS_JUDGE_NONCE") == "random":
        return secrets.token_hex(8)
    return hmac.new(_nonce_key(), f"{label}\0{text}".encode(), hashlib.sha256).hexdigest()[:16]
