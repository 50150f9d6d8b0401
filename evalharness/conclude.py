"""Conclude a run from its stored files: verdicts, summary, gates, infrastructure verdicts, exit code,
run.json's outcome, and the optional JUnit and Markdown reports. Pure over the results (no lifecycle):
`run`, `rescore` and `merge` all end here, so the gate has one implementation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalharness.exitcodes import ExitCode


@dataclass
class RunOutcome:
    run_dir: Path
    exit_code: int
    summary: list[dict]  # gate.summary_rows: one dict per suite x target
    checks: list
    totals: Any
    messages: list[str]
    judges: dict = field(default_factory=dict)  # name -> config + stats (calls, errors, tokens, position bias)
    regressions: list = field(default_factory=list)  # compare.SuiteDelta rows against --baseline
    right_size: list = field(default_factory=list)  # views.sizing.right_size rows (runs with two or more targets)
    routing_path: Path | None = None  # the routing table written from `right_size`


def conclude(run_dir: Path, suites, manifest: dict, totals, deaths: list[str], *, baseline_run: str | None = None,
             baseline_target: str | None = None, junit: str | None = None, summary_md: str | None = None) -> RunOutcome:
    """Verdicts, summary, gates and run.json from the Parquet files, in Arrow and plain Python: pandas
    is imported only for the optional JUnit and Markdown reports and the baseline comparison."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from evalharness.gate import (
        case_stats, evaluate_gates, infrastructure_failures, judge_call_counts, summary_rows, verdict_rows, verdict_table,
    )
    from evalharness.results.manifest import utcnow, write_manifest
    from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE, manipulation_count

    # The texts (messages, output, tool calls) are the bulk of the table and nothing below reads them.
    wanted = [c for c in pq.read_schema(run_dir / RESPONSES_FILE).names if c not in ("messages", "output", "tool_calls")]
    responses = pq.read_table(run_dir / RESPONSES_FILE, columns=wanted)
    scores = pq.read_table(run_dir / SCORES_FILE, columns=[c for c in pq.read_schema(run_dir / SCORES_FILE).names
                                                           if c != "verdict"])
    verdicts = verdict_table(responses, scores)
    summary = summary_rows(verdicts)
    quarantine = {s.name: set(s.suite.quarantine) for s in suites if s.suite.quarantine}
    baseline = None
    if baseline_run:
        from evalharness.compare import compare_with_baseline

        baseline = compare_with_baseline(Path(baseline_run), run_dir, baseline_target)
        manifest["baseline"] = {"run": baseline.run, "pairing": baseline.pairing,
                                "deltas": [asdict(d) for d in baseline.deltas]}
    gates = {s.name: s.suite.gate for s in suites}
    # Per-case stats say something only with repeats (flaky, pass@k) or a quarantine.
    repeated = responses.num_rows > 0 and (pc.max(responses["repeat"]).as_py() or 0) > 0
    # Plain rows (one dict per response) only where a gate, a quarantine or repeats need them.
    rows = verdict_rows(verdicts) if any(g is not None for g in gates.values()) or quarantine or repeated else []
    targets = [t["name"] for t in manifest.get("targets") or []]
    judge_calls = judge_call_counts(scores)
    # Every configured check, even over no rows at all: a check that evaluates nothing fails (gate.py).
    checks = evaluate_gates(rows, gates, quarantine, baseline, targets=targets, judge_calls=judge_calls)
    cstats = case_stats(rows, quarantine) if repeated or quarantine else []
    if cstats:
        import pyarrow as pa

        from evalharness.results.writer import write_atomic

        write_atomic(pa.Table.from_pylist(cstats), run_dir / "cases.parquet")
    n, n_err = responses.num_rows, len(responses["error"]) - responses["error"].null_count
    judges_of = {(m["name"], sc["name"]): list(sc.get("panel") or [sc.get("judge") or "default"])
                 for m in manifest.get("suites") or [] for sc in m.get("scorers") or []}
    judge_stats = {n: j.get("stats") or {} for n, j in (manifest.get("judges") or {}).items()}
    messages = list(deaths) + infrastructure_failures(summary, gates, judge_calls, judges_of, judge_stats)
    if messages:  # say why, here and not only inside the Parquet file
        messages += common_errors(responses)
    if messages:
        code = ExitCode.INFRA
    elif any(not c.passed for c in checks) and not manifest.get("shard"):
        code = ExitCode.GATE
    else:
        code = ExitCode.OK
    if manifest.get("shard") and checks:
        messages.append("shard run: its gates are shown, but only `evalharness merge` of all shards decides them")

    sizing, routing_path = [], None
    if len(targets) >= 2 and not manifest.get("shard"):
        sizing, routing_path = _right_size(run_dir, suites, manifest, checks)

    def total(col: str) -> int:
        return int(pc.sum(scores[col]).as_py() or 0) if scores.num_rows else 0

    manifest.update(
        status="complete", ended_at=utcnow(), exit_code=code, infrastructure=messages,
        cases={"flaky": sorted(f"{c['suite']}/{c['case_id']}" for c in cstats if c["flaky"]),
               "quarantined": sorted(f"{c['suite']}/{c['case_id']}" for c in cstats if c["quarantined"])},
        counts={"responses": n, "errors": n_err, "cached": int(pc.sum(responses["cached"]).as_py() or 0) if n else 0,
                "judge_errors": len(scores["judge_error"]) - scores["judge_error"].null_count,
                "judge_manipulation": manipulation_count(scores),
                "judge_input_tokens": total("judge_input_tokens"),
                "judge_output_tokens": total("judge_output_tokens")},
        gate={"passed": all(c.passed for c in checks), "checks": [{**asdict(c), "passed": c.passed} for c in checks]},
        summary=summary,
        **({"right_size": {"verdict": sizing, "routing": str(routing_path)}} if sizing else {}),
    )
    write_manifest(run_dir, manifest)
    outcome = RunOutcome(run_dir, code, summary, checks, totals, messages, manifest.get("judges") or {},
                         baseline.deltas if baseline else [], sizing, routing_path)
    if junit or summary_md:
        verdicts, scores = verdicts.to_pandas(), scores.to_pandas()
    if junit:
        from evalharness.report.junit import write_junit

        write_junit(Path(junit), verdicts, scores, run_dir.name)
    if summary_md:
        from evalharness.report.markdown import write_summary

        write_summary(Path(summary_md), outcome, verdicts, scores)
    return outcome


def _right_size(run_dir: Path, suites, manifest: dict, checks: list) -> tuple[list[dict], Path]:
    """Per category, the smallest target that meets its suites' gates; written as `routing.yaml`."""
    import os

    import yaml

    from evalharness.views.sizing import right_size, right_size_document

    verdict = right_size([{**asdict(c), "passed": c.passed} for c in checks], {s.name: s.category for s in suites},
                         list(manifest.get("targets") or []))
    path = run_dir / "routing.yaml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(right_size_document(verdict, run_dir.name), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return verdict, path


def common_errors(responses: Any) -> list[str]:
    """Per target with errored responses, its most common error: what an infrastructure failure's
    message needs to say why, without opening the Parquet file."""
    import pyarrow.compute as pc

    if responses.num_rows == 0 or responses["error"].null_count == responses.num_rows:
        return []
    failed = responses.filter(pc.is_valid(responses["error"])).select(["target", "error"]).to_pylist()
    counts: dict[str, dict[str, int]] = {}
    for r in failed:
        by = counts.setdefault(r["target"], {})
        by[r["error"]] = by.get(r["error"], 0) + 1
    out = []
    for target, by in sorted(counts.items()):
        error, n = max(by.items(), key=lambda kv: kv[1])
        text = error if len(error) <= 200 else error[:200] + "..."
        out.append(f"target '{target}': most common error ({n} of {sum(by.values())}): {text}")
    return out
