"""Every text the model sees in a request, and every text it returns in a response.

A *slot* is one string the rails must check, with a setter so that a redaction rewrites it in place.
- Request: every message, whatever its role (system, developer, user, assistant history, tool and
  function results): string content, the text and refusal parts of list content, `name`, tool-call
  names and arguments, legacy `function_call`, and any other string field; plus the tool (and legacy
  function) definitions the model reads: names, descriptions and the text of their parameter schemas.
- Response: every choice's message: `content`, `refusal`, reasoning text, tool-call names and
  arguments, legacy `function_call`, and any other string field.
Parts that are not text (image_url, input_audio, file, an audio answer, ...) are listed apart: the
policy's `non_text_parts` blocks or allows them.

`validate_request` checks the shape at the boundary: a malformed request is a 400, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from evalharness.guard.policy import ROLES

# Keys that identify or type a value rather than carry text the model reads.
_STRUCTURAL = frozenset({"role", "tool_call_id", "id", "type", "index"})
# Schema keys whose string values are not prose (`type: string`, `$ref: ...`, `format: date`).
_SCHEMA_KEYWORDS = frozenset({"type", "$ref", "format", "$schema", "$id"})
_TEXT_PARTS = {"text": "text", "refusal": "refusal"}  # part type -> the key holding its text
_NON_TEXT_KEYS = frozenset({"audio"})  # message fields that are media, not text


@dataclass
class Slot:
    where: str  # e.g. messages[2].content[0].text, choices[1].message.tool_calls[0].function.arguments
    role: str | None  # the message's role (responses: assistant)
    choice: int | None  # responses: the choice's index
    text: str
    _set: Callable[[str], None]

    def set(self, value: str) -> None:
        self._set(value)
        self.text = value


@dataclass(frozen=True)
class NonText:
    where: str
    kind: str


def _setter(container: Any, key: Any) -> Callable[[str], None]:
    def set_(value: str) -> None:
        container[key] = value

    return set_


def _walk(container: Any, key: Any, path: str, role: str | None, choice: int | None, out: list[Slot],
          skip: frozenset[str] = _STRUCTURAL) -> None:
    """Every string under container[key], as slots (structural keys skipped)."""
    value = container[key]
    if isinstance(value, str):
        out.append(Slot(path, role, choice, value, _setter(container, key)))
    elif isinstance(value, dict):
        for k in list(value):
            if k not in skip:
                _walk(value, k, f"{path}.{k}", role, choice, out, skip)
    elif isinstance(value, list):
        for j in range(len(value)):
            _walk(value, j, f"{path}[{j}]", role, choice, out, skip)


def _message(msg: dict, path: str, role: str | None, choice: int | None, slots: list[Slot], media: list[NonText]) -> None:
    for key in list(msg):
        if key in _STRUCTURAL or msg[key] is None:
            continue
        where = f"{path}.{key}"
        if key in _NON_TEXT_KEYS:
            media.append(NonText(where, key))
        elif key == "content" and isinstance(msg[key], list):
            for j, part in enumerate(msg[key]):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind in _TEXT_PARTS and isinstance(part.get(_TEXT_PARTS[kind]), str):
                    slots.append(Slot(f"{where}[{j}].{_TEXT_PARTS[kind]}", role, choice, part[_TEXT_PARTS[kind]],
                                      _setter(part, _TEXT_PARTS[kind])))
                else:
                    media.append(NonText(f"{where}[{j}]", str(kind)))
        else:
            _walk(msg, key, where, role, choice, slots)


def request_slots(body: dict) -> tuple[list[Slot], list[NonText]]:
    """The texts of a validated request the model will see, and its non-text parts."""
    slots: list[Slot] = []
    media: list[NonText] = []
    for i, m in enumerate(body["messages"]):
        _message(m, f"messages[{i}]", m["role"], None, slots, media)
    for key in ("tools", "functions"):
        for i, t in enumerate(body.get(key) or []):
            fn = t.get("function") if key == "tools" else t
            if not isinstance(fn, dict):
                continue
            for k in ("name", "description"):
                if isinstance(fn.get(k), str):
                    slots.append(Slot(f"{key}[{i}].{k}", None, None, fn[k], _setter(fn, k)))
            if isinstance(fn.get("parameters"), (dict, list)):
                _walk(fn, "parameters", f"{key}[{i}].parameters", None, None, slots, _SCHEMA_KEYWORDS)
    return slots, media


def response_slots(doc: dict) -> tuple[list[Slot], list[NonText]]:
    """The texts of a validated (non-streamed) response: every field of every choice's message."""
    slots: list[Slot] = []
    media: list[NonText] = []
    for i, ch in enumerate(doc["choices"]):
        idx = ch.get("index") if isinstance(ch.get("index"), int) else i
        _message(ch["message"], f"choices[{i}].message", "assistant", idx, slots, media)
    return slots, media


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _check_calls(m: dict, where: str) -> str | None:
    calls = m.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            return f"{where}.tool_calls must be a list"
        for k, c in enumerate(calls):
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not _is_str(fn.get("name")) or not _is_str(fn.get("arguments", "")):
                return f"{where}.tool_calls[{k}] must be {{function: {{name: string, arguments: string}}}}"
    fc = m.get("function_call")
    if fc is not None and (not isinstance(fc, dict) or not _is_str(fc.get("name", "")) or not _is_str(fc.get("arguments", ""))):
        return f"{where}.function_call must be {{name: string, arguments: string}}"
    return None


def _check_message(m: Any, i: int) -> str | None:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        return f"{where} must be an object"
    role = m.get("role")
    if role not in ROLES:
        return f"{where}.role must be one of {', '.join(ROLES)}"
    content = m.get("content")
    if content is None:
        if role not in ("assistant", "function"):
            return f"{where}.content is required for the {role} role"
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not _is_str(part.get("type")):
                return f"{where}.content[{j}] must be an object with a string `type`"
            key = _TEXT_PARTS.get(part["type"])
            if key and not _is_str(part.get(key)):
                return f"{where}.content[{j}].{key} must be a string"
    elif not _is_str(content):
        return f"{where}.content must be a string, a list of content parts, or null"
    for key in ("name", "tool_call_id"):
        if m.get(key) is not None and not _is_str(m[key]):
            return f"{where}.{key} must be a string"
    return _check_calls(m, where)


def validate_request(body: Any) -> str | None:
    """Why a chat completion request is malformed, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "`messages` must be a non-empty list of message objects"
    for i, m in enumerate(msgs):
        if (problem := _check_message(m, i)) is not None:
            return problem
    if body.get("model") is not None and not _is_str(body["model"]):
        return "`model` must be a string"
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        return "`stream` must be a boolean"
    n = body.get("n")
    if n is not None and (type(n) is not int or n < 1):
        return "`n` must be a positive integer"
    for key in ("tools", "functions"):
        items = body.get(key)
        if items is not None and (not isinstance(items, list) or not all(isinstance(t, dict) for t in items)):
            return f"`{key}` must be a list of objects"
    return None


def validate_response(doc: Any) -> str | None:
    """Why an upstream (non-streamed) answer is malformed, or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list) or not doc["choices"]:
        return "no choices"
    for i, ch in enumerate(doc["choices"]):
        if not isinstance(ch, dict) or not isinstance(ch.get("message"), dict):
            return f"choices[{i}] has no message"
        if (problem := _check_calls(ch["message"], f"choices[{i}].message")) is not None:
            return problem
    return None
