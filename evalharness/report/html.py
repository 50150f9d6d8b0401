"""Static HTML report of one run, rendered with jinja2 (autoescape on: model output is always escaped)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import BaseLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from evalharness.gate import response_verdicts, summarize
from evalharness.results.manifest import read_manifest
from evalharness.results.schema import RESPONSES_FILE, SCORES_FILE

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>evalharness {{ run_id }}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top} th{background:#f4f4f4}
.pass{color:#11772d}.fail{color:#b3261e} .bar{background:#4a78c2;height:12px}
pre{white-space:pre-wrap;max-width:60em;margin:0}
</style></head><body>
<h1>evalharness run {{ run_id }}</h1>
<p>Status <b>{{ status }}</b>, exit code <b class="{{ 'pass' if exit_code == 0 else 'fail' }}">{{ exit_code }}</b>;
started {{ started }}; harness {{ version }}{% if git_sha %}; git {{ git_sha[:12] }}{% endif %}.</p>
<h2>Targets</h2><table><tr><th>name</th><th>model</th><th>served model</th><th>base_url</th></tr>
{% for t in targets %}<tr><td>{{ t.name }}</td><td>{{ t.model }}</td><td>{{ t.served_model }}</td><td>{{ t.base_url }}</td></tr>{% endfor %}</table>
<h2>Gates</h2>{% if checks %}<table><tr><th></th><th>suite</th><th>target</th><th>scope</th><th>metric</th><th>value</th><th>bound</th><th>n</th></tr>
{% for c in checks %}<tr><td class="{{ 'pass' if c.passed else 'fail' }}">{{ 'PASS' if c.passed else 'FAIL' }}</td><td>{{ c.suite }}</td>
<td>{{ c.target }}</td><td>{{ c.scope }}</td><td>{{ c.metric }}</td><td>{{ '%.3f'|format(c.value) if c.value is not none else 'n/a' }}</td>
<td>{{ c.bound }} {{ c.threshold }}</td><td>{{ c.n }}</td></tr>{% endfor %}</table>{% else %}<p>No gates configured.</p>{% endif %}
<h2>Results</h2><table><tr><th>suite</th><th>target</th><th>responses</th><th>pass rate</th><th></th><th>mean score</th><th>errors</th><th>p50 ms</th></tr>
{% for r in summary %}<tr><td>{{ r.suite }}</td><td>{{ r.target }}</td><td>{{ r.responses }}</td><td>{{ '%.1f'|format(100 * r.pass_rate) }}%</td>
<td style="width:120px"><div class="bar" style="width:{{ (100 * r.pass_rate)|round|int }}%"></div></td>
<td>{{ '%.3f'|format(r.mean_score) }}</td><td>{{ r.errors }}</td><td>{{ r.p50 }}</td></tr>{% endfor %}</table>
<h2>By category</h2><table><tr><th>category</th><th>target</th><th>pass rate</th><th></th></tr>
{% for r in categories %}<tr><td>{{ r.category }}</td><td>{{ r.target }}</td><td>{{ '%.1f'|format(100 * r.passed) }}%</td>
<td style="width:200px"><div class="bar" style="width:{{ (100 * r.passed)|round|int }}%"></div></td></tr>{% endfor %}</table>
<h2>Failed cases ({{ failed|length }}{% if failed_total > failed|length %} of {{ failed_total }}{% endif %})</h2>
<table><tr><th>suite</th><th>target</th><th>case</th><th>output</th><th>why</th></tr>
{% for f in failed %}<tr><td>{{ f.suite }}</td><td>{{ f.target }}</td><td>{{ f.case_id }}</td><td><pre>{{ f.output }}</pre></td><td><pre>{{ f.reason }}</pre></td></tr>{% endfor %}</table>
</body></html>"""


def render_html(run_dir: Path, limit: int = 500) -> str:
    manifest = read_manifest(run_dir)
    responses = pd.read_parquet(run_dir / RESPONSES_FILE)
    scores = pd.read_parquet(run_dir / SCORES_FILE)
    v = response_verdicts(responses, scores)
    summary = summarize(v)
    summary["p50"] = summary["p50_ms"].map(lambda x: "-" if pd.isna(x) else f"{x:.0f}")
    cats = v.groupby(["category", "target"], sort=True)["passed"].mean().reset_index()
    bad = scores[~scores["passed"] & ~scores["metric_only"]].groupby("response_id")["reason"].apply(
        lambda r: "\n".join(r)).to_dict()
    failed = v[~v["passed"]]
    rows = [{"suite": r.suite, "target": r.target, "case_id": r.case_id, "output": (r.output or "")[:2000],
             "reason": r.error if isinstance(r.error, str) else bad.get(r.response_id, "")} for r in failed.head(limit).itertuples()]
    env = SandboxedEnvironment(loader=BaseLoader(), autoescape=select_autoescape(default=True, default_for_string=True))
    checks = [type("C", (), c) for c in (manifest.get("gate") or {}).get("checks", [])]
    return env.from_string(TEMPLATE).render(
        run_id=manifest["run_id"], status=manifest.get("status"), exit_code=manifest.get("exit_code"),
        started=manifest.get("started_at"), version=manifest.get("harness_version"), git_sha=manifest.get("git_sha"),
        targets=manifest.get("targets", []), checks=checks, summary=list(summary.itertuples()),
        categories=list(cats.itertuples()), failed=rows, failed_total=len(failed))
