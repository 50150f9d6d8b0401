"""The suite format (public contract). Pydantic models with unknown keys forbidden."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evalharness.judges.config import JudgeConfig
from evalharness.strict import Strict  # noqa: F401 - re-exported: suites' models build on it

Category = Literal["accuracy", "hallucination", "safety", "tool_calling", "regression"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# Case keys a dataset column may be mapped to with `fields:`.
CASE_KEYS = (
    "id", "input", "messages", "expected", "context", "output", "tool_calls", "tags", "params", "metadata",
    "tools", "tool_choice", "expected_tool_calls", "tool_results", "max_turns", "label",
)


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ScorerSpec(BaseModel):
    """`{type: NAME, threshold?, not?, name?, metric_only?, ...scorer arguments}`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field(..., description="scorer name; see `evalharness list scorers`")
    threshold: float | None = Field(
        None, description="pass when score >= threshold (0 is a valid threshold); 0-1, or scale units for rubric"
    )
    negate: bool = Field(False, alias="not", description="invert the score and the verdict")
    name: str | None = Field(None, description="column name in scores.parquet; defaults to the type")
    metric_only: bool = Field(False, description="record the score, but do not let it decide pass/fail")

    def scorer_args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExpectedCall(Strict):
    """One expected tool call. `arguments` maps each parameter to its acceptable values
    (a list; a scalar is a one-element list; `null` in the list means it may be omitted)."""

    name: str = Field(..., min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class GateThresholds(Strict):
    min_pass_rate: float | None = Field(None, ge=0, le=1)
    min_mean_score: float | None = Field(None, ge=0, le=1)


class Gate(GateThresholds):
    tags: dict[str, GateThresholds] = Field(default_factory=dict, description="per-tag thresholds")
    max_attack_success: float | None = Field(
        None, ge=0, le=1, description="bound on the share of `attack`-tagged cases the model failed (attack succeeded)"
    )
    max_over_refusal: float | None = Field(
        None, ge=0, le=1, description="bound on the share of `benign`-tagged cases the model failed (refused)"
    )
    max_regression: float | None = Field(
        None, ge=0, le=1, description="with --baseline: largest pass-rate drop tolerated when it is significant"
    )
    significance: float = Field(0.05, gt=0, lt=1, description="McNemar p below which a drop counts as significant")
    use_wilson: bool = Field(False, description="gate min_pass_rate on the Wilson 95% lower bound, not the point value")
    max_error_rate: float = Field(
        0.5, ge=0, le=1, description="share of a target's requests (or a judge's calls) that may error before the run "
                                     "is an infrastructure failure (exit 3)")


class Defaults(Strict):
    system: str | None = Field(None, description="system prompt prepended to every case")
    params: dict[str, Any] = Field(
        default_factory=dict, description="generation params: temperature, max_tokens, seed, stop, ..."
    )


class Case(Strict):
    # A number id (`id: 7`, common in datasets) becomes "7"; a bool stays an error.
    id: str = Field(..., min_length=1, coerce_numbers_to_str=True)
    input: str | None = None
    messages: list[Message] | None = None
    expected: Any = None
    context: list[str] | None = None
    output: str | None = Field(None, description="recorded answer, scored by the `recorded` target")
    tool_calls: list[dict[str, Any]] | None = Field(None, description="recorded tool calls (OpenAI shape)")
    tags: list[str] = Field(default_factory=list)
    scorers: list[ScorerSpec] = Field(default_factory=list, description="added to the suite's scorers")
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tools: list[dict[str, Any]] | None = Field(None, description="OpenAI `tools`; replaces the suite's")
    tool_choice: Any = Field(None, description="OpenAI `tool_choice`: auto, none, required, or a function")
    expected_tool_calls: list[ExpectedCall] | None = Field(
        None, description="calls the model must make; [] means it must make none"
    )
    tool_results: dict[str, str | list[str]] | None = Field(
        None, description="scripted tool outputs by tool name (a list is consumed call by call); enables the agent loop"
    )
    max_turns: int | None = Field(None, ge=1, le=50, description="model turns in the agent loop (default 8)")
    label: bool | float | Literal["pass", "fail"] | None = Field(
        None, description="human label for judge calibration: pass/fail, or a score in [0, 1]"
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> "Case":
        if (self.input is None) == (self.messages is None):
            raise ValueError("give exactly one of `input` or `messages`")
        if self.messages is not None and not self.messages:
            raise ValueError("`messages` is empty")
        if self.max_turns is not None and self.tool_results is None:
            raise ValueError("`max_turns` needs `tool_results` (the scripted outputs the agent loop returns)")
        return self

    @property
    def agentic(self) -> bool:
        return self.tool_results is not None


class LmEval(Strict):
    """`lm_eval:` an lm-eval task whose documents become the suite's cases (suite/lmeval.py)."""

    task: str = Field(..., min_length=1, description="task name (defined under include_path) or a task YAML path")
    include_path: str | None = Field(None, description="folder of task YAMLs, relative to the suite file")
    num_fewshot: int | None = Field(None, ge=0, le=64, description="overrides the task's num_fewshot")
    limit: int | None = Field(None, ge=1, description="only the first N documents")
    filter: str | None = Field(None, description="which filter_list pipeline scores (default: the first)")
    fewshot_as_multiturn: bool = Field(True, description="few-shot examples as chat turns (lm-eval's default)")


class Suite(Strict):
    name: str = Field(..., min_length=1)
    category: Category
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[dict[str, Any]] | None = Field(None, description="inline cases")
    dataset: str | None = Field(None, description="JSONL, CSV or Parquet path, relative to the suite file")
    lm_eval: LmEval | None = Field(None, description="an lm-eval task as the cases (needs the `lmeval` extra)")
    fields: dict[str, str] | None = Field(None, description="dataset column -> case key")
    prompt: str | None = Field(None, description="jinja2 template over a dataset row's columns -> `input`")
    scorers: list[ScorerSpec] = Field(default_factory=list)
    gate: Gate | None = None
    tools: list[dict[str, Any]] | None = Field(None, description="OpenAI `tools` schema sent with every case")
    tool_choice: Any = Field(None, description="OpenAI `tool_choice` sent with every case")
    judges: dict[str, "JudgeConfig"] | None = Field(None, description="judge endpoints by name (`default` is used unless a scorer names another)")
    quarantine: list[str] = Field(default_factory=list, description="known-flaky case ids: reported, but kept out of the gate")
    mutate: list[str] | None = Field(None, description="attack mutators: each case is also tried in these forms")
    mutate_seed: int = Field(0, description="seed for the mutators (expansions are deterministic)")

    @model_validator(mode="after")
    def _cases_or_dataset(self) -> "Suite":
        if sum(x is not None for x in (self.cases, self.dataset, self.lm_eval)) != 1:
            raise ValueError("give exactly one of `cases`, `dataset` or `lm_eval`")
        if self.dataset is None and (self.fields is not None or self.prompt is not None):
            raise ValueError("`fields` and `prompt` only apply with `dataset`")
        return self



Suite.model_rebuild()
