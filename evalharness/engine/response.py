"""What an OpenAI-compatible endpoint may answer: the one check between the transport and the engine.

An endpoint's answer is untrusted input. Everything after this step (the agent loop, the scorers,
the cache, the Parquet writer with its fixed schema) relies on the shapes below; what does not fit
becomes the case's recorded error, never a crash and never a pass.

The shapes are as lenient as the OpenAI spec and real servers, and no more:
- unknown keys are allowed everywhere (ignored, except on tool calls, which keep theirs because the
  agent loop sends them back to the model);
- `message` may be absent or null (a choice stopped by a content filter can come without one),
  `content` and `finish_reason` may be null, `usage` may be absent or null;
- token counts are non-negative integers up to 2**53 - 1; bools, floats and strings are rejected;
- `tool_calls` is null or a list of {id?: str, type?: str, function: {name: str, arguments: str}}.
  `arguments` given as a JSON object (a server that sends them parsed) is accepted and serialised:
  the scorers parse the string anyway, so rejecting it would fail a right answer;
- `logprobs` may be any JSON;
- stream chunks: `choices` may be empty (the usage-only last chunk); a tool-call delta's `index`
  is a non-negative integer, and a delta without one starts a new call (servers that send each
  call whole in one chunk).

JSON itself: invalid UTF-8 and lone surrogate escapes become U+FFFD; NaN, Infinity and big integers
are read (and then rejected where a string or a count is due); a document nested deeper than
MAX_DEPTH levels is malformed (what is kept of it must be written out again: orjson stops at 255).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import from_json
from typing_extensions import Required, TypedDict

from evalharness.targets.config import DEFAULT_MAX_RESPONSE_BYTES  # noqa: F401 - one limit, set per target

MAX_DEPTH = 201  # containers inside one another: jiter's limit (200 below the top); real responses nest under 10
MAX_TOKEN_COUNT = 2**53 - 1  # exact as a float64 (the views average them), and any sum over turns fits int64

TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKEN_COUNT)]


class Malformed(ValueError):
    """The response does not fit: the message is one line, bounded in length, and says where."""


def too_large(limit: int) -> str:
    return f"response too large: over {limit} bytes"


# ---- JSON ----

def parse_json(raw: bytes, what: str) -> Any:
    """The JSON document in `raw`; Malformed when it is not JSON or nests deeper than MAX_DEPTH.

    pydantic's parser (jiter) first: as fast as orjson here, and it stops at MAX_DEPTH levels where
    orjson before 3.9.15 recurses until the process dies (CVE-2024-27454). What it refuses (invalid
    UTF-8, lone surrogate escapes, too deep) gets a second look from the standard library."""
    try:
        return from_json(raw, allow_inf_nan=True)
    except ValueError:
        pass
    text = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise Malformed(f"malformed JSON in {what}: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise Malformed(f"malformed JSON in {what}: {text[:120]!r}") from None
    if isinstance(doc, (dict, list)) and deeper_than(doc, MAX_DEPTH):
        raise Malformed(f"malformed JSON in {what}: nested deeper than {MAX_DEPTH} levels")
    return _replace_lone_surrogates(doc)


def deeper_than(container: dict | list, limit: int) -> bool:
    """Whether `container` nests more than `limit` containers deep (itself counting as one)."""
    if limit < 1:
        return True
    values = container.values() if isinstance(container, dict) else container
    return any(deeper_than(v, limit - 1) for v in values if isinstance(v, (dict, list)))


def _replace_lone_surrogates(obj: Any) -> Any:
    """The standard library decodes a lone `\\ud800` escape to a string no UTF-8 writer accepts
    (pyarrow and SQLite would fail later). Called on documents within MAX_DEPTH."""
    if isinstance(obj, str):
        return obj if obj.isascii() else obj.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(obj, list):
        return [_replace_lone_surrogates(v) for v in obj]
    if isinstance(obj, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in obj.items()}
    return obj


# ---- validation ----
# TypedDicts, not models: validation returns plain dicts (what the engine records and sends back),
# about twice as fast as building model instances; this runs once per response and per stream chunk.

REASONS = {
    "string_type": "expected a string", "int_type": "expected an integer", "list_type": "expected a list",
    "model_type": "expected an object", "dict_type": "expected an object", "missing": "missing",
    "greater_than_equal": "must not be negative", "less_than_equal": f"must be at most {MAX_TOKEN_COUNT}",
}


def validate(schema: TypeAdapter, data: Any, what: str) -> Any:
    try:
        return schema.validate_python(data)
    except ValidationError as e:
        raise Malformed(describe(e, what)) from None


def describe(e: ValidationError, what: str) -> str:
    """`malformed <what>: <path>: <reason>` for the first problem, and how many more there are."""
    errors = e.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    reason = REASONS.get(first["type"]) or first["msg"][:80]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"malformed {what}: {_path(first['loc'])}: {reason}{more}"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out[:120] or "top level"


# strict: no coercion ("5" is not a count, 1 is not a string, true is not 1)
LENIENT = ConfigDict(extra="allow", strict=True)


def _object_as_json(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v


Arguments = Annotated[str, BeforeValidator(_object_as_json)]


class FunctionCall(TypedDict):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    name: str
    arguments: Arguments


class ToolCall(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    id: str | None
    type: str | None
    function: Required[FunctionCall]


class Message(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    content: str | None
    tool_calls: list[ToolCall] | None


class Usage(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    prompt_tokens: TokenCount | None
    completion_tokens: TokenCount | None


class Choice(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    message: Message | None
    finish_reason: str | None
    logprobs: Any


class ChatCompletion(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    choices: list[Choice] | None
    usage: Usage | None


class FunctionDelta(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    name: str | None
    arguments: Arguments | None


class ToolCallDelta(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    index: Annotated[int, Field(ge=0)] | None
    id: str | None
    type: str | None
    function: FunctionDelta | None


class Delta(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    content: str | None
    tool_calls: list[ToolCallDelta] | None


class ChunkChoice(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    delta: Delta | None
    finish_reason: str | None


class Chunk(TypedDict, total=False):
    __pydantic_config__ = LENIENT  # type: ignore[misc]
    choices: list[ChunkChoice] | None
    usage: Usage | None


class CachedCompletion(TypedDict, total=False):
    """A cache row (Completion.cacheable()). One that does not fit (another version's, or written
    before responses were checked) is a cache miss."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]
    output: str
    tool_calls: list[ToolCall] | None
    finish_reason: str | None
    latency_ms: float | None
    ttft_ms: float | None
    input_tokens: TokenCount | None
    output_tokens: TokenCount | None
    extra: dict[str, Any]


RESPONSE = TypeAdapter(ChatCompletion)
CHUNK = TypeAdapter(Chunk)
CACHED = TypeAdapter(CachedCompletion)
