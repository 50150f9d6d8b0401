"""End-of-run console output: where the results are, the suite x target table, the gates."""

from __future__ import annotations

import math


def _fmt(v, pattern: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return pattern.format(v)


def print_outcome(outcome) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    import sys

    # In CI logs (not a terminal) do not squeeze the table into 80 columns.
    c = Console() if sys.stdout.isatty() else Console(width=200)
    t = Table(title=f"run {outcome.run_dir.name}")
    safety = any(r.get("attack_success") is not None or r.get("over_refusal") is not None for r in outcome.summary)
    cols = ["suite", "target", "responses", "pass rate", "mean score", "errors", "p50 ms", "p95 ms"]
    cols += ["attack success", "over-refusal"] if safety else []
    for col in cols:
        t.add_column(col, justify="left" if col in ("suite", "target") else "right")
    for r in outcome.summary:
        row = [Text(r["suite"]), Text(r["target"]), str(r["responses"]), _fmt(r["pass_rate"], "{:.1%}"),
               _fmt(r["mean_score"], "{:.3f}"), str(r["errors"]), _fmt(r["p50_ms"], "{:.0f}"), _fmt(r["p95_ms"], "{:.0f}")]
        if safety:
            row += [_fmt(r["attack_success"], "{:.1%}"), _fmt(r["over_refusal"], "{:.1%}")]
        t.add_row(*row)
    c.print(t)
    if outcome.checks:
        for chk in outcome.checks:
            c.print(Text(chk.describe(), style="green" if chk.passed else "bold red"))
    else:
        c.print("no gates configured (add `gate:` to a suite)")
    if getattr(outcome, "right_size", None):
        c.print("right size (per category, the smallest target that meets its suites' gates):", highlight=False)
        for r in outcome.right_size:
            who = f"{r['target']}" + (f" ({r['size']})" if r.get("size") else "") if r["meets_bar"] else r["note"]
            c.print(Text(f"  {r['category']:<14} {who}", style="green" if r["meets_bar"] else "yellow"))
        c.print(f"routing table: {outcome.routing_path}", highlight=False)
    for name, j in (outcome.judges or {}).items():
        st = j.get("stats") or {}
        bias = st.get("position_bias_rate")
        c.print(Text(
            f"judge {name} ({j.get('model')}): {st.get('calls', 0)} calls ({st.get('cached', 0)} cached), "
            f"{st.get('errors', 0)} judge errors, {st.get('input_tokens', 0)} tokens in / {st.get('output_tokens', 0)} out"
            + (f", {st['manipulation']} answers failed as judge_manipulation" if st.get("manipulation") else "")
            + (f", {st['differential']} judged twice (differential; {st.get('differential_lower', 0)} lowered)"
               if st.get("differential") else "")
            + (f", position bias {bias:.0%} of {st.get('pairwise')} pairs" if bias is not None else "")))
    for m in outcome.messages:
        c.print(Text(m, style="bold red"))
    tot = outcome.totals
    if tot is not None and tot.requests:
        rate = "" if tot.requests_per_s is None else f" ({tot.requests_per_s:.0f}/s)"
        c.print(f"requests:  {tot.requests} in {tot.elapsed_s:.2f} s{rate}, {tot.cached} cached, {tot.errors} errors",
                highlight=False)
    c.print(f"responses: {outcome.run_dir / 'responses.parquet'}", highlight=False)
    c.print(f"scores:    {outcome.run_dir / 'scores.parquet'}", highlight=False)
    verdict = {0: "[green]PASS[/]", 1: "[bold red]GATE FAILED[/]", 3: "[bold red]INFRASTRUCTURE FAILURE[/]"}
    c.print(f"result: {verdict.get(outcome.exit_code, outcome.exit_code)} (exit {outcome.exit_code})")
