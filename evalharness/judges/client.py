"""Ask a judge endpoint for a verdict and parse it into a pydantic model.

Structured output first: `response_format` carries the verdict's JSON Schema, in OpenAI's
`json_schema` form, or llama.cpp's `json_object` + `schema` form. With `auto`, a server that
refuses the first (HTTP 4xx) is asked once more in the second, and the judge keeps using what
worked. Tolerant extraction (a JSON object inside prose or a code fence) is only the fallback
for servers that ignore the schema. An unparsable, truncated or invalid verdict is an error,
never a pass. Every call goes through the response cache, and tokens are counted per judge.

The schema sent is made enforceable first (`constrain_schema`): llama-cpp-python's grammar converter
ignores `minimum`/`maximum`, so a bounded integer becomes an `enum` of its values (a 1-5 rubric cannot
answer 10); every string gets a `maxLength` and every array a `maxItems`, so a grammar-bound judge
cannot ramble until max_tokens and return unparsable JSON. The parse side checks the same enums.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError

from evalharness.judges.config import JudgeConfig

Complete = Callable[[dict[str, Any], int], Awaitable[Any]]  # (body, repeat) -> a completion (output, usage...), cached


@dataclass
class JudgeReply:
    verdict: BaseModel | None
    raw: str
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    logprobs: list | None = None


@dataclass
class JudgeStats:
    calls: int = 0
    cached: int = 0
    errors: int = 0  # judgements that ended in a judge error (failed call, unparsable or invalid verdict)
    input_tokens: int = 0
    output_tokens: int = 0
    pairwise: int = 0
    pairwise_inconsistent: int = 0
    manipulation: int = 0  # answers failed before reaching this judge: they addressed the grader (judge_manipulation)
    differential: int = 0  # answers judged a second time with grader-addressed clauses removed (scorers/judging.py)
    differential_lower: int = 0  # ... of which the redacted judgement counted (it was worse) or disagreed
    scores: dict[str, list[float]] = field(default_factory=dict)  # scorer -> this judge's values (for lean)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "scores"}
        d["position_bias_rate"] = self.pairwise_inconsistent / self.pairwise if self.pairwise else None
        return d


MAX_CHARS = 400  # a string of the verdict (a reason, a claim): about two sentences
MAX_ITEMS = 32  # a list of the verdict (claims, statements, passages)
MAX_ENUM = 101  # a bounded integer with at most this many values is sent as an enum


def constrain_schema(schema: dict, *, max_chars: int = MAX_CHARS, max_items: int = MAX_ITEMS) -> dict:
    """A copy of a verdict's JSON Schema that a grammar converter can enforce: an integer with `minimum` and
    `maximum` (at most MAX_ENUM values) gets the `enum` of its values, every free string a `maxLength` of at
    most `max_chars`, every array a `maxItems` of at most `max_items`. Stricter than the pydantic model on
    purpose: the parse side stays tolerant of a server that ignores the schema."""

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for x in node:
                walk(x)
            return
        if not isinstance(node, dict):
            return
        t = node.get("type")
        if "enum" not in node and "const" not in node:
            if t == "integer" and isinstance(node.get("minimum"), int) and isinstance(node.get("maximum"), int) \
                    and 0 <= node["maximum"] - node["minimum"] < MAX_ENUM:
                node["enum"] = list(range(node["minimum"], node["maximum"] + 1))
            elif t == "string" and "format" not in node and "pattern" not in node:
                node["maxLength"] = min(node.get("maxLength", max_chars), max_chars)
        if t == "array":
            # an explicit minItems (one entry per claim or passage) outranks the cap
            node["maxItems"] = max(min(node.get("maxItems", max_items), max_items), node.get("minItems", 0))
        for v in node.values():
            walk(v)

    out = copy.deepcopy(schema)
    walk(out)
    return out


def off_scale(doc: Any, schema: dict) -> str | None:
    """The first value of the verdict outside an `enum` of the schema's top-level properties, described."""
    props = schema.get("properties") or {}
    if not isinstance(doc, dict):
        return None
    for name, sub in props.items():
        allowed = sub.get("enum") if isinstance(sub, dict) else None
        allowed = allowed if isinstance(allowed, list) and allowed else None
        if allowed is not None and name in doc and (doc[name] not in allowed or isinstance(doc[name], bool)
                                                    and not any(isinstance(a, bool) for a in allowed)):
            ints = all(type(a) is int for a in allowed) and allowed == list(range(allowed[0], allowed[0] + len(allowed)))
            shown = f"{allowed[0]}-{allowed[-1]}" if ints else ", ".join(json.dumps(a) for a in allowed)
            return f"invalid verdict: {name} {json.dumps(doc[name], default=str)[:40]} outside the scale {shown}"
    return None


def parse_verdict(text: str, model: type[BaseModel], finish_reason: str | None,
                  schema: dict | None = None) -> tuple[BaseModel | None, str | None]:
    """The verdict in `text` as `model`; a value outside an enum of `schema` (the scale sent) is an error."""
    from evalharness.jsontext import parse_json_output

    doc, err = parse_json_output(text, extract=True)
    if doc is None:
        try:  # llama-cpp-python's grammar lets raw control characters (a newline) into a JSON string
            doc = json.loads(text, strict=False)
        except ValueError:
            pass
    if doc is None:
        if finish_reason == "length":
            return None, f"truncated verdict (finish_reason=length): {text[-80:]!r}"
        return None, f"unparsable verdict: {err}: {text[:120]!r}"
    if schema is not None and (bad := off_scale(doc, schema)) is not None:
        return None, bad
    try:
        return model.model_validate(doc), None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(verdict)"
        return None, f"invalid verdict: {where}: {first['msg']}"


def _refused_format(error: str) -> bool:
    """The server refused `json_schema`: a 4xx, or (llama-cpp-python) a 500 whose body names response_format."""
    return error.startswith("HTTP 4") or (error.startswith("HTTP 5") and "response_format" in error)


class Judge:
    def __init__(self, name: str, config: JudgeConfig, model: str, complete: Complete):
        self.name = name
        self.config = config
        self.model = model
        self._complete = complete
        self.style = config.response_format if config.response_format != "auto" else "json_schema"
        self._auto = config.response_format == "auto"
        self.stats = JudgeStats()

    def _format(self, model: type[BaseModel], schema: dict | None = None, style: str | None = None) -> dict | None:
        schema = schema or constrain_schema(model.model_json_schema())
        style = style or self.style
        if style == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": schema}}
        if style == "json_object":
            return {"type": "json_object", "schema": schema}
        return None

    async def ask_text(self, prompt: str, *, repeat: int = 0) -> JudgeReply:
        """A free-text answer (no verdict model), for metric libraries that ask for prose (reasons).
        Cached and counted like `ask`."""
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                **self.config.params}
        c = await self._complete(body, repeat)
        self.stats.calls += 1
        self.stats.cached += c.cached
        self.stats.input_tokens += c.input_tokens or 0
        self.stats.output_tokens += c.output_tokens or 0
        return JudgeReply(None, c.output, f"judge request failed: {c.error}" if c.error else None,
                          c.input_tokens or 0, c.output_tokens or 0)

    async def ask(self, prompt: str, model: type[BaseModel], *, repeat: int = 0, logprobs: bool = False,
                  schema: dict | None = None) -> JudgeReply:
        """`schema` narrows the verdict's JSON Schema for this call (e.g. a rubric's score range)."""
        schema = constrain_schema(schema or model.model_json_schema())
        while True:
            body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                    **self.config.params}
            style = self.style
            fmt = self._format(model, schema, style)
            if fmt is not None:
                body["response_format"] = fmt
            if logprobs:
                body.update(logprobs=True, top_logprobs=10)
            c = await self._complete(body, repeat)
            # `auto`: a server that refuses json_schema gets json_object from now on. A request that was
            # already in flight when another one found out is asked again too.
            if (c.error and style == "json_schema" and (self._auto or self.style != style)
                    and _refused_format(c.error)):
                self.style, self._auto = "json_object", False
                continue
            break
        st = self.stats
        st.calls += 1
        st.cached += c.cached
        st.input_tokens += c.input_tokens or 0
        st.output_tokens += c.output_tokens or 0
        reply = JudgeReply(None, c.output, None, c.input_tokens or 0, c.output_tokens or 0,
                           ((c.extra or {}).get("logprobs") or {}).get("content"))
        if c.error:
            reply.error = f"judge request failed: {c.error}"
        else:
            reply.verdict, reply.error = parse_verdict(c.output, model, c.finish_reason, schema)
        return reply


class JudgeServices:
    """What judge scorers may reach at score time: judges by name, and reference outputs."""

    def __init__(self, judges: dict[str, Judge], baseline: dict[tuple[str, str], str] | None = None,
                 reference: Callable[[str, Any], Awaitable[str | None]] | None = None):
        self.judges = judges
        self.baseline = baseline or {}
        self.reference = reference

    def judge(self, name: str) -> Judge:
        try:
            return self.judges[name]
        except KeyError:
            raise LookupError(f"no judge named '{name}' (configured: {', '.join(sorted(self.judges)) or 'none'})") from None

    def summary(self) -> dict[str, Any]:
        return {name: {"model": j.model, **j.stats.as_dict()} for name, j in self.judges.items()}


def verdict_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=lambda o: o.model_dump() if isinstance(o, BaseModel) else str(o))
