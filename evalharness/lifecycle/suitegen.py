"""The two commands that write suites rather than runs: `snapshot` (a run's approved outputs frozen as a
regression suite) and `generate` (a suite expanded by mutators and LLM paraphrases, for review).
The public face is evalharness.api.snapshot / generate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from evalharness.results.manifest import config_message
from evalharness.results.schema import RESPONSES_FILE


@dataclass(frozen=True)
class Written:
    """A suite file written by `snapshot` or `generate`."""

    path: Path
    cases: int
    seeds: int = 0
    target: str | None = None
    errors: tuple[str, ...] = ()  # paraphrase requests that failed (the seeds are still written)


def _write_yaml(path: Path, doc: dict) -> None:
    import yaml

    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def snapshot_suite(run_dir: str | Path, suite: str, output: str | Path, *, scorer: str = "rouge_l",
             threshold: float | None = None, target: str | None = None) -> Written:
    """Freeze a run's approved outputs of one suite as a regression suite (category regression,
    `expected` = the output), compared by `scorer` (exact, rouge_l or rubric) in later runs."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from evalharness.results.manifest import read_manifest
    from evalharness.suite.loader import load_suite

    run_dir, output = Path(run_dir), Path(output)
    try:
        manifest = read_manifest(run_dir)
    except (OSError, ValueError) as e:
        raise config_message(f"{run_dir}: not a run folder with a readable run.json ({e})") from None
    meta = next((s for s in manifest.get("suites", []) if s["name"] == suite), None)
    if meta is None:
        raise config_message(f"suite {suite!r} is not in {run_dir}")
    original = load_suite(meta["path"])
    try:
        r = pq.read_table(run_dir / RESPONSES_FILE,
                          columns=["suite", "case_id", "target", "repeat", "output", "tool_calls", "error"])
    except OSError as e:
        raise config_message(f"{run_dir}: not a finished run folder ({e})") from None
    keep = pc.and_(pc.and_(pc.equal(r["suite"], suite), pc.is_null(r["error"])), pc.equal(r["repeat"], 0))
    rows = r.filter(keep).to_pylist()
    tgt = target or (rows[0]["target"] if rows else None)
    outputs = {row["case_id"]: row["output"] for row in rows if row["target"] == tgt}
    calls = {row["case_id"]: frozen_calls(row["tool_calls"]) for row in rows if row["target"] == tgt and row["tool_calls"]}
    spec: dict[str, Any] = {"type": scorer}
    if scorer == "rubric":
        spec.update(criteria="The answer says the same as the reference answer.", scale=[1, 5])
    if threshold is not None:
        spec["threshold"] = threshold
    cases = []
    for lc in original.cases:
        if lc.case.id not in outputs:
            continue
        c = lc.case.model_dump(exclude_none=True, exclude_defaults=True,
                               include={"id", "input", "messages", "context", "tags", "params", "metadata", "tools",
                                        "tool_choice", "tool_results", "max_turns"})
        frozen = calls.get(lc.case.id)
        if frozen is not None:  # the approved behaviour was a tool call: freeze the calls, not an empty text
            c["expected_tool_calls"] = frozen
            c["scorers"] = [{"type": "tool_call"}]
        else:
            c["expected"] = outputs[lc.case.id]
            c["scorers"] = [spec]
        cases.append(c)
    doc = {"name": f"{suite}-golden", "category": "regression",
           "description": f"Approved outputs of {suite} from run {manifest['run_id']} (target {tgt}).",
           "defaults": original.suite.defaults.model_dump(exclude_none=True),
           **{k: v for k, v in (("tools", original.suite.tools), ("tool_choice", original.suite.tool_choice)) if v is not None},
           "cases": cases}  # scorers per case: text answers by `scorer`, tool calls by `tool_call`
    _write_yaml(output, doc)
    return Written(output, len(cases), len(original.cases), tgt)


def frozen_calls(tool_calls_json: str) -> list[dict] | None:
    """A response's tool calls (OpenAI shape, as stored) as `expected_tool_calls`: each argument's value
    as the one acceptable value. None when they cannot be read back (then the text output is frozen)."""
    import json

    try:
        out = []
        for tc in json.loads(tool_calls_json):
            fn = tc.get("function") or {}
            args = fn.get("arguments") or "{}"
            args = json.loads(args) if isinstance(args, str) else args
            if not isinstance(fn.get("name"), str) or not isinstance(args, dict):
                return None
            out.append({"name": fn["name"], "arguments": {k: [v] for k, v in args.items()}})
        return out
    except (ValueError, TypeError, AttributeError):
        return None


def expand_suite(suite: str | Path, output: str | Path, *, mutators: str | Sequence[str] = (), seed: int = 0,
             paraphrase: int = 0, paraphrase_endpoint: tuple[str | None, str | None] | None = None,
             cache_dir: str | Path | None = None) -> Written:
    """Write `suite` with every case expanded by the mutators (`<id>~<mutator>` cases) and, with
    `paraphrase` N, N LLM rewrites of each seed from `paraphrase_endpoint` (base URL, model), for review before it is run."""
    from evalharness.mutators import UnknownMutator, mutate_case
    from evalharness.suite.loader import load_suite

    output = Path(output)
    loaded = load_suite(Path(suite))
    names = [n.strip() for n in (mutators.split(",") if isinstance(mutators, str) else mutators) if n.strip()]
    requested = set(names)
    # The suite's own `mutate:` expansions are not seeds: the written suite has no `mutate:` (it is expanded),
    # so its mutators are applied here, with the ones asked for, once each, to the seed cases only.
    own = list(loaded.suite.mutate or [])
    names = list(dict.fromkeys(own + names))
    expanded_ids = {f"{lc.case.id}~{m}" for lc in loaded.cases for m in own}
    cases = []
    for lc in loaded.cases:
        if lc.case.id in expanded_ids:
            continue
        base = lc.case.model_dump(exclude_none=True, exclude_defaults=True)
        base["scorers"] = [b.config for b in lc.scorers]  # suite-level and case-level, written out per case
        cases.append(base)
        for n in names:
            try:
                seed_n = loaded.suite.mutate_seed if n in own and n not in requested else seed
                cases.append(mutate_case(base, n, seed_n))
            except UnknownMutator as e:
                raise config_message(str(e)) from None
    errors: list[str] = []
    if paraphrase:
        base_url, model = paraphrase_endpoint or (None, None)
        if not (base_url and model):
            raise config_message("--paraphrase needs --paraphrase-base-url and --paraphrase-model")
        from evalharness.engine.loop import loop_factory, run as run_loop

        try:
            loop_factory()
        except ValueError as e:
            raise config_message(str(e)) from None
        from evalharness.paraphrase import paraphrase_all

        seeds = [c for c in cases if "~" not in c["id"]]
        extra, failed = run_loop(paraphrase_all(seeds, paraphrase, base_url, model, None if cache_dir is None else str(cache_dir)))
        errors = [str(e) for e in failed]
        cases += extra
    doc = loaded.suite.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True,
                                  exclude={"cases", "dataset", "fields", "prompt", "scorers", "mutate", "mutate_seed"})
    doc.setdefault("category", loaded.suite.category)
    doc["name"] = f"{loaded.suite.name}-expanded"
    doc["cases"] = cases
    _write_yaml(output, doc)
    n_seeds = sum(1 for lc in loaded.cases if lc.case.id not in expanded_ids)
    return Written(output, len(cases), n_seeds, errors=tuple(errors))
