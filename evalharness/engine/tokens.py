"""Token counts from a local tokenizer, for endpoints that report no `usage`.

A target with `tokenizer: DIR` (targets.yaml) has its missing counts filled from that tokenizer
(transformers `AutoTokenizer`, `local_files_only`, no remote code):

- prompt tokens: the request messages rendered with the tokenizer's chat template (tools passed
  along, the generation prompt added), exactly what a server using that template would count. A
  tokenizer without a chat template counts the messages' texts, one encoding with special tokens.
  A template that refuses the messages (a role it does not know) leaves the prompt count unknown.
- completion tokens: the answer's text without special tokens, plus each tool call's name and
  arguments as the JSON the endpoint returned (an approximation: the model's own tool-call syntax
  is not known).
- an agent loop: every assistant turn counts its prompt (the transcript before it) and its answer,
  summed, as the endpoint's per-turn usage would be.

Only counts the endpoint left out are filled; `source()` says where the recorded counts came from.
The tokenizer is loaded once per process per directory; the counting runs in a worker thread.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from evalharness.errors import ConfigError, Problem

INSTALL = "pip install -e '.[hf]'"
ENDPOINT, TOKENIZER, MIXED = "endpoint", "tokenizer", "endpoint+tokenizer"
MAX_CHARS = 4 * 1024 * 1024  # text per count at most: a bound on the work, far above any context window


class TokenCounter:
    def __init__(self, path: Path, tokenizer: Any):
        self.path, self.tok = path, tokenizer
        self.templated = bool(getattr(tokenizer, "chat_template", None))
        self.lock = threading.Lock()  # a fast tokenizer is not to be used from two threads at once

    def _ids(self, out: Any) -> list:
        if isinstance(out, dict) or hasattr(out, "keys"):  # a BatchEncoding
            out = out["input_ids"]
        return out

    def prompt(self, messages: list[dict], tools: list[dict] | None) -> int | None:
        if self.templated:
            try:
                ids = self.tok.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                   tokenize=True)
            except Exception:  # noqa: BLE001 - the template refuses these messages: the count stays unknown
                return None
            return len(self._ids(ids))
        text = "\n".join(t for m in messages if (t := _text(m.get("content"))))
        return len(self.tok(text[:MAX_CHARS], add_special_tokens=True)["input_ids"])

    def completion(self, message: dict) -> int:
        n = 0
        text = _text(message.get("content"))
        if text:
            n += len(self.tok(text[:MAX_CHARS], add_special_tokens=False)["input_ids"])
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            spec = json.dumps({"name": fn.get("name"), "arguments": fn.get("arguments")}, ensure_ascii=False)
            n += len(self.tok(spec[:MAX_CHARS], add_special_tokens=False)["input_ids"])
        return n

    def count(self, transcript: list[dict], start: int, tools: list[dict] | None) -> tuple[int | None, int]:
        """(prompt tokens, completion tokens) summed over the assistant turns at index >= start."""
        prompt: int | None = 0
        completion = 0
        with self.lock:
            for i in range(start, len(transcript)):
                m = transcript[i]
                if not isinstance(m, dict) or m.get("role") != "assistant":
                    continue
                p = self.prompt(transcript[:i], tools)
                prompt = None if p is None or prompt is None else prompt + p
                completion += self.completion(m)
        return prompt, completion


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


_COUNTERS: dict[Path, TokenCounter] = {}
_LOCK = threading.Lock()


def load_counter(directory: str, target: str) -> TokenCounter:
    """The tokenizer in `directory`, loaded once per process; ConfigError naming the target when it
    cannot be (missing directory, no tokenizer files, transformers not installed)."""
    path = Path(directory).expanduser().resolve()

    def problem(msg: str) -> ConfigError:
        return ConfigError([Problem(f"target {target}", None, "tokenizer", msg)])

    with _LOCK:
        hit = _COUNTERS.get(path)
        if hit is not None:
            return hit
        if not path.is_dir():
            raise problem(f"tokenizer directory not found: {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers import AutoTokenizer
        except ImportError as e:
            raise problem(f"token counting needs transformers ({e}): {INSTALL}") from None
        try:
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        except Exception as e:  # noqa: BLE001 - a broken directory is a configuration error
            raise problem(f"cannot load a tokenizer from {path}: {type(e).__name__}: {str(e)[:300]}") from None
        hit = _COUNTERS[path] = TokenCounter(path, tok)
        return hit


def source(endpoint_in: int | None, endpoint_out: int | None, filled_in: bool, filled_out: bool) -> str | None:
    """Where a response's counts came from: endpoint, tokenizer, endpoint+tokenizer, or None (no counts)."""
    by_endpoint = endpoint_in is not None or endpoint_out is not None
    by_tokenizer = filled_in or filled_out
    if by_endpoint and by_tokenizer:
        return MIXED
    return TOKENIZER if by_tokenizer else ENDPOINT if by_endpoint else None


async def fill(counter: TokenCounter | None, comp: Any, transcript: list[dict], start: int,
               tools: list[dict] | None) -> tuple[int | None, int | None, str | None]:
    """(input tokens, output tokens, source) of a completion: the endpoint's, and the tokenizer's where
    the endpoint gave none. `transcript[start:]` holds the assistant turns (an agent loop's transcript,
    or the request messages plus the answer)."""
    import asyncio

    inp, out = comp.input_tokens, comp.output_tokens
    if counter is None or comp.error is not None or (inp is not None and out is not None):
        return inp, out, source(inp, out, False, False)
    p, c = await asyncio.to_thread(counter.count, transcript, start, tools)
    fill_in, fill_out = inp is None and p is not None, out is None
    return (p if fill_in else inp), (c if fill_out else out), source(inp, out, fill_in, fill_out)
