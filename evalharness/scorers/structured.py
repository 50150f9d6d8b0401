"""Structured-output scorers: json_valid, json_schema; and run-metric scorers: latency, tokens."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from evalharness.jsontext import parse_json_output
from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer

class JsonArgs(ScorerArgs):
    extract: bool = Field(True, description="accept JSON inside a ```json fence or surrounded by prose")
    source: Literal["output", "tool_arguments"] = Field(
        "output", description="check the text output, or the arguments of every tool call"
    )


def _documents(a: JsonArgs, s: Sample) -> list[tuple[str, Any, str | None]]:
    if a.source == "output":
        doc, err = parse_json_output(s.output, a.extract)
        return [("output", doc, err)]
    out = []
    for i, call in enumerate(s.tool_calls or []):
        fn = (call or {}).get("function") or {}
        raw = fn.get("arguments")
        label = f"tool call {i} ({fn.get('name')})"
        if isinstance(raw, (dict, list)):
            out.append((label, raw, None))
            continue
        try:
            out.append((label, json.loads(raw or ""), None))
        except (json.JSONDecodeError, TypeError) as e:
            out.append((label, None, f"invalid JSON arguments: {e}"))
    return out


@scorer(name="json_valid", description="Output (or tool-call arguments) parses as JSON.", args=JsonArgs)
def json_valid(a: JsonArgs):
    def score(s: Sample) -> Score:
        docs = _documents(a, s)
        if not docs:
            return Score(0.0, False, "no tool calls to check")
        bad = [f"{label}: {err}" for label, _, err in docs if err]
        if bad:
            return Score(0.0, False, "; ".join(bad))
        return Score(1.0, True, "valid JSON")

    return score


class JsonSchemaArgs(JsonArgs):
    schema_: dict = Field(..., alias="schema", description="JSON Schema the document must satisfy")

    @model_validator(mode="after")
    def _schema_ok(self) -> "JsonSchemaArgs":
        import jsonschema

        try:
            jsonschema.validators.validator_for(self.schema_).check_schema(self.schema_)
        except jsonschema.SchemaError as e:
            raise ValueError(f"invalid JSON Schema: {e.message}") from None
        return self


@scorer(
    name="json_schema",
    description="Output (or tool-call arguments) is JSON that validates against a JSON Schema.",
    args=JsonSchemaArgs,
)
def json_schema(a: JsonSchemaArgs):

    validator = offline_validator(a.schema_)

    def score(s: Sample) -> Score:
        docs = _documents(a, s)
        if not docs:
            return Score(0.0, False, "no tool calls to check")
        problems = []
        for label, doc, err in docs:
            if err:
                problems.append(f"{label}: {err}")
                continue
            errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            if errs:
                e = errs[0]
                where = "/".join(map(str, e.path)) or "(root)"
                problems.append(f"{label}: {where}: {e.message}")
        if problems:
            return Score(0.0, False, "; ".join(problems))
        return Score(1.0, True, "matches schema")

    return score


class LatencyArgs(ScorerArgs):
    max_ms: float = Field(..., gt=0, description="maximum end-to-end latency in milliseconds")


@scorer(name="latency", description="Response latency is at most max_ms.", args=LatencyArgs)
def latency(a: LatencyArgs):
    def score(s: Sample) -> Score:
        if s.latency_ms is None:
            return Score(0.0, False, "no latency recorded")
        ok = s.latency_ms <= a.max_ms
        return Score(float(ok), ok, f"{s.latency_ms:.0f} ms (max {a.max_ms:g})")

    return score


class TokensArgs(ScorerArgs):
    max: int = Field(..., ge=0, description="maximum output tokens")


@scorer(name="tokens", description="Output token count (from the usage block) is at most max.", args=TokensArgs)
def tokens(a: TokensArgs):
    def score(s: Sample) -> Score:
        if s.output_tokens is None:
            return Score(0.0, False, "no token usage reported")
        ok = s.output_tokens <= a.max
        return Score(float(ok), ok, f"{s.output_tokens} output tokens (max {a.max})")

    return score


def offline_validator(schema: dict):
    """A JSON Schema validator that resolves `$ref` only inside the schema: a remote or `file:` reference
    (which jsonschema would otherwise fetch) is an error, so a suite's schema cannot reach a host or a file."""
    import jsonschema
    from referencing import Registry
    from referencing.exceptions import NoSuchResource

    def refuse(uri: str):
        raise NoSuchResource(ref=uri)

    return jsonschema.validators.validator_for(schema)(schema, registry=Registry(retrieve=refuse))
