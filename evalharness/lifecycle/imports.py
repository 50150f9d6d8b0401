"""`evalharness import lm-eval OUTPUT_DIR`: lm-eval's `--log_samples` output (results_*.json and
samples_<task>_*.jsonl) becomes a recorded run folder (run.json, responses.parquet, scores.parquet), gated
like a run, so the UI, `compare` and the gate read it.

One response row per (task, document); one score row per (metric, filter) lm-eval reported for it, named
`metric,filter` as in lm-eval's results (the suite's deciding scorer decides, its `lm_eval.filter`; with no
suite the first filter decides; the others are `metric_only`). With
`--suite` (a suite with `lm_eval:` naming the same task) the rows take that suite's name, case ids and gate,
so an lm-eval run and a bridge run of the task pair up in `compare`.

lm-eval's files are untrusted input: each line is checked, and a bad one is exit 2 with file:line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalharness.conclude import RunOutcome, conclude
from evalharness.errors import ConfigError, Problem

MAX_FILE_BYTES = 2 << 30
MAX_LINE_CHARS = 64 << 20
MAX_TASK_FILES = 1_000


def find_results(output_dir: Path) -> Path:
    """The newest results_*.json under `output_dir` (lm-eval writes OUTPUT/<model>/results_<time>.json)."""
    if not output_dir.is_dir():
        raise ConfigError([Problem(str(output_dir), None, "", "not a directory (give lm-eval's --output_path)")])
    found = sorted(output_dir.glob("results_*.json")) or sorted(output_dir.glob("*/results_*.json"))
    if not found:
        raise ConfigError([Problem(str(output_dir), None, "", "no results_*.json here or one level down: run lm-eval "
                                                              "with --output_path DIR --log_samples")])
    return found[-1]


def _read_json(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError([Problem(str(path), None, "", "file too large")])
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError([Problem(str(path), getattr(e, "lineno", None), "", f"not a readable JSON file: {e}")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ConfigError([Problem(str(path), 1, "results", "not an lm-eval results file (no `results` mapping)")])
    return data


def read_samples(path: Path) -> list[tuple[int, dict]]:
    """(line, sample) for every line of a samples_*.jsonl file, each checked."""
    out, problems = [], []
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError([Problem(str(path), None, "", "file too large")])
    with path.open("r", encoding="utf-8", errors="strict") as f:
        try:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if len(line) > MAX_LINE_CHARS:
                    problems.append(Problem(str(path), n, "", "line too long"))
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(Problem(str(path), n, "", f"not JSON: {e.msg}"))
                    continue
                why = _sample_problem(d)
                if why:
                    problems.append(Problem(str(path), n, "", why))
                    continue
                out.append((n, d))
        except UnicodeDecodeError as e:
            problems.append(Problem(str(path), None, "", f"not UTF-8: {e}"))
    if problems:
        raise ConfigError(problems[:20])
    return out


def _sample_problem(d: Any) -> str | None:
    if not isinstance(d, dict):
        return "a sample must be a JSON object"
    if not isinstance(d.get("doc_id"), int) or isinstance(d.get("doc_id"), bool):
        return "`doc_id` must be an integer"
    if not isinstance(d.get("metrics"), list) or not all(isinstance(m, str) for m in d["metrics"]):
        return "`metrics` must be a list of metric names"
    for m in d["metrics"]:
        v = d.get(m)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"metric `{m}` must be a finite number (lm-eval writes one per sample)"
    if not isinstance(d.get("filter", "none"), str):
        return "`filter` must be a string"
    return None


def _messages(sample: dict) -> list[dict]:
    """The request lm-eval sent: its chat messages (JSON in `arg_0` with --apply_chat_template), else the
    plain prompt as one user message."""
    args = sample.get("arguments") or {}
    first = args.get("gen_args_0") if isinstance(args, dict) else None
    ctx = first.get("arg_0") if isinstance(first, dict) else None
    if isinstance(ctx, list):
        ctx = ctx[0] if ctx else None
    if isinstance(ctx, str):
        try:
            msgs = json.loads(ctx)
            if isinstance(msgs, list) and msgs and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs):
                return msgs
        except json.JSONDecodeError:
            pass
        return [{"role": "user", "content": ctx}]
    return []


def _output(sample: dict) -> str:
    resps = sample.get("resps")
    if isinstance(resps, list) and resps and isinstance(resps[0], list) and resps[0] and isinstance(resps[0][0], str):
        return resps[0][0]
    return json.dumps(sample.get("filtered_resps"), ensure_ascii=False, default=str)


def _expected(target: Any) -> str | None:
    if target is None:
        return None
    return target if isinstance(target, str) else json.dumps(target, ensure_ascii=False, default=str)


def import_lm_eval(output_dir: Path, out: Path, *, target: str | None = None, suites: list[Path] = ()) -> RunOutcome:
    """lm-eval's output folder → a run folder under `out`, concluded (gated) like a run."""
    import pyarrow as pa

    from evalharness.results.manifest import new_run_id, utcnow, write_manifest
    from evalharness.results.schema import (
        RESPONSES,
        RESPONSES_FILE,
        SCHEMA_VERSION,
        SCORES,
        SCORES_FILE,
        bounded,
        input_text,
    )
    from evalharness.results.writer import write_atomic
    from evalharness.suite.loader import load_suites

    results_file = find_results(output_dir)
    results = _read_json(results_file)
    stamp = results_file.stem.removeprefix("results_")
    model = str(results.get("model_name") or (results.get("config") or {}).get("model") or "lm-eval")
    target = target or model
    loaded = load_suites(suites) if suites else []
    by_task = {lc.case.metadata.get("lm_eval_task"): s for s in loaded for lc in s.cases[:1]}
    tasks = sorted(t for t in results["results"] if isinstance(t, str))
    run_id = new_run_id()
    run_dir = out / run_id
    responses, scores, suite_entries, scored = [], [], [], set()
    for ti, task in enumerate(tasks):
        files = sorted(results_file.parent.glob(f"samples_{task}_{stamp}.jsonl"))[:1]
        if not files:
            continue  # a group's aggregate row has no samples of its own
        suite = by_task.get(task)
        name = suite.name if suite else task
        order = {lc.case.id: i for i, lc in enumerate(suite.cases)} if suite else {}
        # which (metric, filter) decides: the suite's (its `lm_eval.filter`), else the first lm-eval reported
        deciding = {b.name for b in suite.cases[0].scorers if not b.metric_only} if suite and suite.cases else None
        seen: dict[int, dict] = {}
        for n, s in read_samples(files[0]):
            row = seen.get(s["doc_id"])
            case_id = f"doc-{s['doc_id']}"
            if row is None:
                messages = _messages(s)
                rid = f"{run_id}:{name}:{case_id}"
                row = seen[s["doc_id"]] = {
                    "run_id": run_id, "response_id": rid, "suite": name, "category": "accuracy", "case_id": case_id,
                    "target": target, "model": model, "repeat": 0, "input": input_text(None, messages),
                    "expected": bounded(_expected(s.get("target"))), "messages": json.dumps(messages, ensure_ascii=False),
                    "output": _output(s), "finish_reason": "recorded", "cached": False, "tags": ["lm-eval"],
                    "suite_index": ti, "case_index": order.get(case_id, s["doc_id"]), "target_index": 0}
                responses.append(row)
            first = row["response_id"] not in scored
            scored.add(row["response_id"])
            for i, m in enumerate(s["metrics"]):
                v = float(s[m])
                scorer = f"{m},{s.get('filter', 'none')}"
                decides = scorer in deciding if deciding is not None else (first and i == 0)
                scores.append({"run_id": run_id, "response_id": row["response_id"], "suite": name, "case_id": case_id,
                               "target": target, "scorer": scorer, "score": v,
                               "passed": v >= 1.0, "reason": f"lm-eval {m} = {v:g} ({files[0].name}:{n})",
                               "metric_only": not decides})
        suite_entries.append({"name": name, "category": "accuracy", "path": str(suite.path.resolve()) if suite else "",
                              "cases": len(seen), "scorers": [], "lm_eval_task": task, "source": str(files[0])})
    if not responses:
        raise ConfigError([Problem(str(results_file), None, "", f"no samples_<task>_{stamp}.jsonl next to it: run "
                                                                "lm-eval with --log_samples")])
    responses.sort(key=lambda r: (r["suite_index"], r["case_index"]))
    run_dir.mkdir(parents=True)
    write_atomic(pa.Table.from_pylist(scores, schema=SCORES), run_dir / SCORES_FILE)
    write_atomic(pa.Table.from_pylist(responses, schema=RESPONSES), run_dir / RESPONSES_FILE)
    manifest = {"run_id": run_id, "started_at": str(results.get("date") or utcnow()), "status": "running",
                "schema_version": SCHEMA_VERSION, "suites": suite_entries,
                "targets": [{"name": target, "model": model}], "options": {},
                "imported_from": {"lm_eval": str(results_file.resolve()), "lm_eval_version": results.get("lm_eval_version")}}
    write_manifest(run_dir, manifest)
    gated = [s for s in loaded if s.name in {e["name"] for e in suite_entries}]
    return conclude(run_dir, gated, manifest, None, [])
