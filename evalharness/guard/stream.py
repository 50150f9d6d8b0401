"""Output rails on a streamed answer: hold back what a rail could still match, release the rest.

Each streamed text field is accumulated apart: per choice index, its `content`, `refusal`, reasoning
text and any other string field, and per tool call its name and its arguments (also the legacy
`function_call`). After each upstream chunk the guard computes, for every field, the point up to which
the text is safe to send: the smallest `Rail.hold_start` over the rails (see policy.py). Before any text
leaves, the rails run on the accumulated text (on a window that covers every match that could have
completed since the last check); a `block` rail that trips cuts the stream, a `redact` rail rewrites
the released text. So no text a rail would match is ever partly sent.

- A tool call's name is released whole (once its arguments begin), and its arguments only after it.
- `require_refusal`: a choice is held until `refusal_hold_chars` characters (or its end) are in, and
  released only if they are a refusal; afterwards the refusal is checked again before each release.
- Rails that only judge whole answers (and `flag` rails) run when a choice ends.
- Text held past `stream_max_hold_chars` cuts the stream (fail closed).
- The guard writes its own chunks (upstream ids and model kept); `logprobs` are dropped, since the
  text is re-chunked.
"""

from __future__ import annotations

from typing import Any

from evalharness.guard.policy import GuardPolicy, Rail
from evalharness.scorers.safety import detect_refusal

_MARGIN = 64  # context kept before a window (lookbehinds, \b)
_WS = (" ", "\n", "\t", "\r")


class Cut(Exception):
    """The stream must end now with `finish_reason: content_filter`."""

    def __init__(self, rail: Rail | None, name: str, detail: str):
        super().__init__(detail)
        self.rail, self.name, self.detail = rail, name, detail


def _window(text: str, lo: int) -> int:
    """A start `_MARGIN` characters before `lo`, moved back to a whitespace when one is near, so that
    anchors, `\b` and lookbehinds see their context."""
    i = max(0, lo - _MARGIN)
    if i == 0:
        return 0
    ws = max(text.rfind(c, max(0, i - 4 * _MARGIN), i) for c in _WS)
    return ws + 1 if ws >= 0 else i


class _Field:
    __slots__ = ("text", "sent", "final", "checked_final", "hold_lo", "check_lo")

    def __init__(self, n: int):
        self.text, self.sent, self.final, self.checked_final = "", 0, False, False
        self.hold_lo = [0] * n  # per rail: the hold start at the last step
        self.check_lo = [0] * n  # per rail: the hold start when the rail last ran


class _Choice:
    def __init__(self, index: int):
        self.index = index
        self.role: str | None = None
        self.role_sent = False
        self.fields: dict[tuple, _Field] = {}
        self.tools: dict[int, dict] = {}  # tool call index -> {"id", "type"} not yet sent
        self.finish: str | None = None
        self.ended = False  # finish_reason seen, or the upstream stream is over
        self.finish_sent = False
        self.refusal_ok: bool | None = None  # require_refusal: undecided, or decided
        self.extra: dict[str, Any] = {}  # structured fields passed through after a check


class StreamGuard:
    def __init__(self, rails: list[Rail], policy: GuardPolicy, must_refuse: Rail | None = None):
        self.rails = rails
        self.live = [r for r in rails if r.action in ("block", "redact") and r.hold.mode not in ("whole", "none")]
        self.whole = [r for r in rails if r.action == "block" and r.hold.mode == "whole"]
        self.flags = [r for r in rails if r.action == "flag"]
        self.policy, self.must_refuse = policy, must_refuse
        self.choices: dict[int, _Choice] = {}
        self.events: dict[tuple[str, str], tuple[Rail, str, str]] = {}  # (rail, outcome) -> why: logged once

    # ---- input ----------------------------------------------------------------------------------------

    def feed(self, chunk: dict) -> list[dict]:
        """The chunks to send for one upstream chunk. Raises Cut."""
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:  # usage, or an odd chunk: its strings are checked
            self._check_loose(chunk)
            return [chunk]
        for pos, c in enumerate(choices):
            if isinstance(c, dict):
                self._absorb(c, pos)
        return self._emit(chunk)

    def finish(self, chunk: dict | None = None) -> list[dict]:
        """At the end of the upstream stream: every choice is final. Raises Cut."""
        for ch in self.choices.values():
            ch.ended = True
            for f in ch.fields.values():
                f.final = True
        return self._emit(chunk or {})

    def _choice(self, index: int) -> _Choice:
        if index not in self.choices:
            self.choices[index] = _Choice(index)
        return self.choices[index]

    def _field(self, ch: _Choice, key: tuple) -> _Field:
        if key not in ch.fields:
            ch.fields[key] = _Field(len(self.live))
        return ch.fields[key]

    def _absorb(self, c: dict, pos: int) -> None:
        ch = self._choice(c["index"] if isinstance(c.get("index"), int) else pos)
        delta = c.get("delta") if isinstance(c.get("delta"), dict) else {}
        for key, val in delta.items():
            if val is None:
                continue
            if key == "role":
                ch.role = str(val)
            elif isinstance(val, str):
                self._field(ch, (key,)).text += val
            elif key == "tool_calls" and isinstance(val, list):
                for j, tc in enumerate(val):
                    if not isinstance(tc, dict):
                        continue
                    i = tc["index"] if isinstance(tc.get("index"), int) else j
                    meta = ch.tools.setdefault(i, {})
                    for k in ("id", "type"):
                        if isinstance(tc.get(k), str):
                            meta[k] = tc[k]
                    self._call(ch, ("tool", i), tc.get("function"))
            elif key == "function_call" and isinstance(val, dict):
                self._call(ch, ("function_call",), val)
            elif key == "audio" and self.policy.non_text_parts == "block":
                raise Cut(None, "non_text_parts", "the answer holds audio (non_text_parts: block)")
            else:  # any other structure: its strings are checked now, then it passes through
                self._check_loose(val)
                ch.extra[key] = val
        if c.get("finish_reason"):
            ch.finish, ch.ended = c["finish_reason"], True
            for f in ch.fields.values():
                f.final = True

    def _call(self, ch: _Choice, prefix: tuple, fn: Any) -> None:
        if not isinstance(fn, dict):
            return
        if isinstance(fn.get("name"), str):
            self._field(ch, prefix + ("name",)).text += fn["name"]
        if isinstance(fn.get("arguments"), str):
            self._field(ch, prefix + ("arguments",)).text += fn["arguments"]
            if prefix + ("name",) in ch.fields:  # the name is complete once the arguments begin
                ch.fields[prefix + ("name",)].final = True

    def _check_loose(self, value: Any) -> None:
        if isinstance(value, str):
            for r in self.live + self.whole:
                if r.action == "block" and r.detector and (hit := r.trips(value))[0]:
                    raise Cut(r, r.name, hit[1])
        elif isinstance(value, dict):
            for v in value.values():
                self._check_loose(v)
        elif isinstance(value, list):
            for v in value:
                self._check_loose(v)

    # ---- decisions ------------------------------------------------------------------------------------

    def _refusal_gate(self, ch: _Choice) -> bool:
        """require_refusal: True when the choice may release text."""
        rail = self.must_refuse
        if rail is None:
            return True
        content = ch.fields[("content",)].text if ("content",) in ch.fields else ""
        held = sum(len(f.text) for f in ch.fields.values())
        if ch.refusal_ok is None and not ch.ended and held < self.policy.refusal_hold_chars:
            return False  # still deciding
        calls = any(k[0] in ("tool", "function_call") for k in ch.fields)
        refused = not calls and (bool(ch.fields.get(("refusal",)) and ch.fields[("refusal",)].text.strip())
                                 or detect_refusal(content)[0])
        if not refused:
            raise Cut(rail, rail.name, "topic requires a refusal; the upstream answered")
        ch.refusal_ok = True
        return True

    def _cut_point(self, f: _Field, ch: _Choice, key: tuple, gate: bool) -> int:
        n = len(f.text)
        if not gate:
            return f.sent
        if key[0] in ("tool", "function_call"):
            if key[-1] == "name" and not f.final:
                return f.sent  # a call's name goes out whole (clients read it from one delta)
            name = ch.fields.get(key[:-1] + ("name",))
            if key[-1] == "arguments" and name is not None and (not name.final or name.sent < len(name.text)):
                return f.sent  # arguments only after their name
        if f.final:
            return n
        cut, holder = n, None
        for k, r in enumerate(self.live):
            f.hold_lo[k] = r.hold.start(f.text, f.hold_lo[k])
            if f.hold_lo[k] < cut:
                cut, holder = f.hold_lo[k], r
        whole = [r for r in self.whole if r.applies_to_field(key[0])]
        if whole:
            cut, holder = 0, whole[0]
        if n - max(cut, f.sent) > self.policy.stream_max_hold_chars:
            r = holder or self.rails[0]
            raise Cut(r, r.name, f"held more than stream_max_hold_chars ({self.policy.stream_max_hold_chars}) "
                                 "without a point where no partial match could be sent")
        return max(cut, f.sent)

    def _run_rails(self, f: _Field, key: tuple) -> None:
        """The block rails on what could have changed since they last ran; whole-answer rails at the end."""
        for k, r in enumerate(self.live):
            if r.action != "block":
                continue
            start = _window(f.text, f.check_lo[k]) if r.local else 0
            tripped, why = r.trips(f.text[start:])
            if tripped:
                raise Cut(r, r.name, why)
            f.check_lo[k] = f.hold_lo[k] if not f.final else len(f.text)
        if f.final:
            f.checked_final = True
            for r in self.whole:
                if not r.applies_to_field(key[0]):
                    continue
                tripped, why = r.trips(f.text)
                if tripped:
                    raise Cut(r, r.name, why)
            for r in self.flags:
                if not r.applies_to_field(key[0]):
                    continue
                tripped, why = r.trips(f.text)
                if tripped:
                    self.events[(r.name, "flag")] = (r, "flag", why)

    def _release(self, f: _Field, cut: int) -> str:
        """f.text[f.sent:cut] with the redact rails applied (cut moved back so no match is split)."""
        spans: list[tuple[int, int, str, int]] = []
        for k, r in enumerate(self.live):
            if r.action != "redact":
                continue
            base = _window(f.text, min(f.sent, f.check_lo[k]))
            spans += [(s + base, e + base, kind, k) for s, e, kind in r.spans(f.text[base:])]
            f.check_lo[k] = f.hold_lo[k] if not f.final else len(f.text)
        for s, e, _, _ in sorted(spans, reverse=True):
            if s < cut < e:
                cut = s
        out, pos = [], f.sent
        for s, e, kind, k in sorted(spans):
            if e <= pos or s >= cut:
                continue
            out.append(f.text[pos:s] if s > pos else "")
            out.append(f"[REDACTED:{kind}]")
            pos = e
            r = self.live[k]
            self.events.setdefault((r.name, "redact"), (r, "redact", f"redacted {kind}"))
        if pos < cut:
            out.append(f.text[pos:cut])
        f.sent = max(cut, pos)
        return "".join(out)

    # ---- output ---------------------------------------------------------------------------------------

    def _emit(self, chunk: dict) -> list[dict]:
        out_choices = []
        for ch in self.choices.values():
            gate = self._refusal_gate(ch)
            released: dict[tuple, str] = {}
            for key in sorted(ch.fields, key=lambda k: (k[:-1], k[-1] != "name")):  # a call's name first
                f = ch.fields[key]
                cut = self._cut_point(f, ch, key, gate)
                if cut > f.sent or (f.final and gate and not f.checked_final):
                    self._run_rails(f, key)
                if cut > f.sent:
                    text = self._release(f, cut)
                    if text:
                        released[key] = text
            done = ch.finish is not None and not ch.finish_sent and all(f.sent >= len(f.text) for f in ch.fields.values())
            if released or done or (ch.extra and gate):
                out_choices.append(self._choice_delta(ch, released, done))
        base = {k: v for k, v in chunk.items() if k != "choices"}
        base.setdefault("object", "chat.completion.chunk")
        if not out_choices:
            return [{**base, "choices": []}] if chunk.get("usage") is not None else []
        return [{**base, "choices": out_choices}]

    def _choice_delta(self, ch: _Choice, released: dict[tuple, str], done: bool) -> dict:
        delta: dict[str, Any] = {}
        if not ch.role_sent:
            delta["role"] = ch.role or "assistant"
            ch.role_sent = True
        delta.update(ch.extra)
        ch.extra = {}
        calls: dict[int, dict] = {}
        for key, text in released.items():
            if key[0] == "tool":
                tc = calls.setdefault(key[1], {"index": key[1], **ch.tools.pop(key[1], {})})
                tc.setdefault("function", {})[key[2]] = text
            elif key[0] == "function_call":
                delta.setdefault("function_call", {})[key[1]] = text
            else:
                delta[key[0]] = text
        if calls:
            delta["tool_calls"] = [calls[i] for i in sorted(calls)]
        if done:
            ch.finish_sent = True
        return {"index": ch.index, "delta": delta, "finish_reason": ch.finish if done else None}

    def open_indexes(self) -> list[int]:
        return sorted(i for i, ch in self.choices.items() if not ch.finish_sent) or [0]
