"""JSON Schema of the suite format, for editor autocompletion (`evalharness schema`)."""

from __future__ import annotations

from typing import Any

from evalharness.scorers.base import all_scorers
from evalharness.suite.model import Case, ScorerSpec, Suite

_COMMON = ("threshold", "not", "name", "metric_only")


def _scorer_variants() -> list[dict[str, Any]]:
    common = ScorerSpec.model_json_schema(by_alias=True)["properties"]
    variants = []
    for name, info in all_scorers().items():
        args = info.args.model_json_schema(by_alias=True)
        props = {"type": {"const": name, "description": info.description}}
        props.update({k: common[k] for k in _COMMON})
        props.update(args.get("properties", {}))
        v = {
            "type": "object",
            "title": name,
            "description": info.description,
            "properties": props,
            "required": ["type", *args.get("required", [])],
            "additionalProperties": False,
        }
        if "$defs" in args:
            v["$defs"] = args["$defs"]
        variants.append(v)
    from evalharness.scorers.adapters import AdapterArgs  # ragas:<metric> / deepeval:<metric>

    args = AdapterArgs.model_json_schema(by_alias=True)
    props = {"type": {"type": "string", "pattern": "^(ragas|deepeval):[a-z0-9_]+$",
                      "description": "a ragas or deepeval metric, judged by the run's judge (optional extras)"}}
    props.update({k: common[k] for k in _COMMON})
    props.update(args.get("properties", {}))
    variants.append({"type": "object", "title": "ragas / deepeval metric", "properties": props,
                     "required": ["type"], "additionalProperties": False})
    return variants


def suite_json_schema() -> dict[str, Any]:
    schema = Suite.model_json_schema(by_alias=True)
    defs = schema.setdefault("$defs", {})
    case = Case.model_json_schema(by_alias=True)
    defs.update(case.pop("$defs", {}))
    defs["Case"] = case
    defs["ScorerSpec"] = {"oneOf": _scorer_variants()}
    schema["properties"]["cases"] = {
        "anyOf": [{"type": "array", "items": {"$ref": "#/$defs/Case"}}, {"type": "null"}],
        "description": "inline cases",
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "evalharness suite"
    return schema
