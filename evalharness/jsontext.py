"""JSON inside model output: the one lenient parse that scorers and judges share."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_json_output(text: str, extract: bool) -> tuple[Any, str | None]:
    """Parse JSON from model output. With `extract`, accept a ```json fence or the first {...}/[...]."""
    candidates = [text.strip()]
    if extract:
        m = _FENCE.search(text)
        if m:
            candidates.append(m.group(1).strip())
        for open_, close in (("{", "}"), ("[", "]")):
            i, j = text.find(open_), text.rfind(close)
            if 0 <= i < j:
                candidates.append(text[i : j + 1])
    err = "empty output"
    for c in candidates:
        if not c:
            continue
        try:
            return json.loads(c), None
        except json.JSONDecodeError as e:
            err = f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
    return None, err
