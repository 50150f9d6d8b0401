"""A Markdown summary for $GITHUB_STEP_SUMMARY and PR comments: verdict, gates, table, failures, artifacts."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"


def _cell(text: str, n: int = 120) -> str:
    """Model text as inert Markdown: no pipes, newlines, HTML or link syntax survive."""
    text = " ".join(str(text).split())[:n]
    for ch in "\\`*_[]<>|#!":
        text = text.replace(ch, "\\" + ch)
    return text


def write_summary(path: Path, outcome, verdicts: pd.DataFrame, scores: pd.DataFrame, top: int = 10) -> Path:
    verdict = {0: "✅ PASS", 1: "❌ GATE FAILED", 3: "⚠️ INFRASTRUCTURE FAILURE"}.get(outcome.exit_code, str(outcome.exit_code))
    lines = [f"## evalharness: {verdict}", "", f"Run `{outcome.run_dir.name}` (exit {outcome.exit_code})", ""]
    for m in outcome.messages:
        lines.append(f"> {_cell(m, 300)}")
    if outcome.checks:
        lines += ["### Gates", "", "| | suite | target | scope | metric | value | bound | n |", "|---|---|---|---|---|---|---|---|"]
        for c in outcome.checks:
            val = f"n/a: {_cell(c.reason or 'no responses')}" if c.value is None else f"{c.value:.3f}"
            who = c.target if c.against is None else f"{c.target} vs {c.against}"
            lines.append(f"| {'✅' if c.passed else '❌'} | {_cell(c.suite)} | {_cell(who)} | {_cell(c.scope)} | {c.metric} | "
                         f"{val} | {c.bound} {c.threshold:g} | {c.n} |")
        lines.append("")
    lines += ["### Results", "", "| suite | target | responses | pass rate | mean score | errors | p50 ms | attack success | over-refusal |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in outcome.summary:
        p50 = "–" if r["p50_ms"] is None else f"{r['p50_ms']:.0f}"
        mean = "–" if r["mean_score"] is None else f"{r['mean_score']:.3f}"
        lines.append(f"| {_cell(r['suite'])} | {_cell(r['target'])} | {r['responses']} | {_pct(r['pass_rate'])} | {mean} | "
                     f"{r['errors']} | {p50} | {_pct(r['attack_success'])} | {_pct(r['over_refusal'])} |")
    if outcome.regressions:
        lines += ["", "### Against the baseline", "",
                  "| suite | target | baseline | n | pass before | pass now | delta | 95% CI | McNemar p | pass→fail | fail→pass |",
                  "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
        for d in [x for x in outcome.regressions if x.scope == "overall"]:
            lines.append(f"| {_cell(d.suite)} | {_cell(d.target)} | {_cell(d.against)} | {d.n} | {_pct(d.pass_a)} | {_pct(d.pass_b)} | "
                         f"{d.delta:+.3f} | [{d.ci_low:+.3f}, {d.ci_high:+.3f}] | {d.p_value:.4f} | {len(d.regressed)} | "
                         f"{len(d.improved)} |")
        flipped = [(d.suite, c) for d in outcome.regressions if d.scope == "overall" for c in d.regressed][:top]
        if flipped:
            lines += ["", "Top pass→fail flips: " + ", ".join(f"`{_cell(s_)}/{_cell(c)}`" for s_, c in flipped)]
    failed = verdicts[~verdicts["passed"]]
    if len(failed):
        bad = scores[~scores["passed"] & ~scores["metric_only"]].drop_duplicates("response_id").set_index("response_id")
        lines += ["", f"### Failed cases (first {min(top, len(failed))} of {len(failed)})", "",
                  "| suite | target | case | reason |", "|---|---|---|---|"]
        for r in failed.head(top).itertuples():
            reason = r.error if isinstance(r.error, str) else (bad.loc[r.response_id, "reason"] if r.response_id in bad.index else "")
            lines.append(f"| {_cell(r.suite)} | {_cell(r.target)} | {_cell(r.case_id)} | {_cell(reason)} |")
    lines += ["", "### Artifacts", "", f"- `{outcome.run_dir / 'responses.parquet'}`", f"- `{outcome.run_dir / 'scores.parquet'}`",
              f"- `{outcome.run_dir / 'run.json'}`", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    # GitHub's step summary file is shared by every step: append to it, overwrite anything else.
    append = os.environ.get("GITHUB_STEP_SUMMARY") and Path(os.environ["GITHUB_STEP_SUMMARY"]) == path
    from evalharness.redact import redact

    with path.open("a" if append else "w", encoding="utf-8") as f:
        f.write(redact("\n".join(lines) + "\n"))
    return path
