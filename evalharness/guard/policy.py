"""Guard policy: input and output rails written exactly like suite scorers, plus an `action`.

A rail trips when its scorer does not pass (so a deny-list is `{type: regex, pattern: ..., not: true}`).
Actions: `block` (answer with the block message), `redact` (pii only: replace the matches),
`flag` (log only), and on input rails `require_refusal` (the answer must be a refusal, else it is
blocked).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from evalharness.scorers.base import Sample
from evalharness.scorers.bind import BoundScorer, bind
from evalharness.scorers.safety import _PII_RX, find_pii
from evalharness.suite.errors import Problem, SuiteError
from evalharness.suite.model import ScorerSpec, Strict
from evalharness.suite.yamlsrc import load_yaml, read_text

Action = Literal["block", "redact", "flag", "require_refusal"]


class RailSpec(ScorerSpec):
    action: Action = "block"


class GuardPolicy(Strict):
    input_rails: list[RailSpec] = Field(default_factory=list)
    output_rails: list[RailSpec] = Field(default_factory=list)
    block_message: str = "I can't help with that: the request was blocked by a guardrail."
    auth_token_env: str | None = Field(None, description="require `Authorization: Bearer $VAR` from clients")
    upstream_api_key_env: str | None = Field(None, description="key sent to the upstream")
    forward_client_key: bool = Field(False, description="forward the client's Authorization header upstream")
    max_request_bytes: int = Field(1_000_000, ge=1)
    log_dir: str = Field("reports/guard", description="folder for the Parquet decision log")
    log_prompts: bool = Field(False, description="also log the raw prompt (off: only a hash)")
    timeout_s: float = Field(120.0, gt=0)


@dataclass(frozen=True)
class Rail:
    name: str
    action: str
    scorer: BoundScorer
    pii_kinds: tuple[str, ...] = ()

    def trips(self, text: str) -> tuple[bool, str]:
        s = self.scorer.score_sync(Sample(case_id="guard", output=text))
        return (not s.passed), s.reason

    def redact(self, text: str) -> str:
        for kind, value in find_pii(text, list(self.pii_kinds or _PII_RX)):
            text = text.replace(value, f"[REDACTED:{kind}]")
        return text


def _rails(specs: list[RailSpec], stage: str, file: str, src, problems: list[Problem]) -> list[Rail]:
    out = []
    for i, spec in enumerate(specs):
        loc = (f"{stage}_rails", i)
        if spec.action == "redact" and spec.type != "pii":
            problems.append(Problem(file, src.line(loc + ("action",)), f"{stage}_rails[{i}].action",
                                    "`redact` works with `pii` rails only"))
            continue
        if spec.action == "require_refusal" and stage != "input":
            problems.append(Problem(file, src.line(loc + ("action",)), f"{stage}_rails[{i}].action",
                                    "`require_refusal` is an input rail action"))
            continue
        base = ScorerSpec.model_validate({k: v for k, v in spec.model_dump(by_alias=True, exclude_none=True).items()
                                          if k != "action"})
        try:
            scorer = bind(base)
        except (ValidationError, ValueError, KeyError) as e:
            problems.append(Problem(file, src.line(loc), f"{stage}_rails[{i}]", str(e)))
            continue
        name = spec.name or f"{stage}:{spec.type}"
        kinds = tuple(base.scorer_args().get("kinds") or ()) if spec.type == "pii" else ()
        out.append(Rail(name, spec.action, scorer, kinds))
    return out


@dataclass(frozen=True)
class LoadedPolicy:
    policy: GuardPolicy
    input_rails: list[Rail]
    output_rails: list[Rail]


def load_policy(path: str | Path) -> LoadedPolicy:
    path = Path(path)
    if not path.is_file():
        raise SuiteError([Problem(str(path), None, "", "guard policy not found")])
    src, problems = load_yaml(read_text(path), str(path))
    if src is None or problems:
        raise SuiteError(problems)
    try:
        policy = GuardPolicy.model_validate(src.data or {})
    except ValidationError as e:
        raise SuiteError(src.problems(e)) from None
    inp = _rails(policy.input_rails, "input", str(path), src, problems)
    outp = _rails(policy.output_rails, "output", str(path), src, problems)
    if problems:
        raise SuiteError(problems)
    return LoadedPolicy(policy, inp, outp)


