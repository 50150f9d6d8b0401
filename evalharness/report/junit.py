"""JUnit XML: one testcase per case x target (GitHub, GitLab and Jenkins read it).

A case fails when any of its repeats fails; the failure message carries every failing scorer's
reason. A response the endpoint could not produce is an <error>, not a <failure>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd


def write_junit(path: Path, verdicts: pd.DataFrame, scores: pd.DataFrame, run_id: str) -> Path:
    failing = scores[~scores["passed"] & ~scores["metric_only"]]
    reasons = failing.groupby("response_id").apply(
        lambda df: [f"{r.scorer}: {r.reason}" for r in df.itertuples()], include_groups=False
    ).to_dict() if len(failing) else {}
    root = ET.Element("testsuites", name=f"evalharness {run_id}")
    for (suite, target), df in verdicts.groupby(["suite", "target"], sort=True):
        ts = ET.SubElement(root, "testsuite", name=f"{suite} [{target}]")
        n = fails = errors = 0
        total_ms = 0.0
        for case_id, rows in df.groupby("case_id", sort=False):
            n += 1
            ms = float(rows["latency_ms"].fillna(0).sum())
            total_ms += ms
            tc = ET.SubElement(ts, "testcase", name=str(case_id), classname=f"{suite}.{target}", time=f"{ms / 1000:.3f}")
            errs = rows["error"].dropna()
            if len(errs):
                errors += 1
                e = ET.SubElement(tc, "error", message=str(errs.iloc[0])[:500], type="ResponseError")
                e.text = "\n".join(str(x) for x in errs)
                continue
            if not rows["passed"].all():
                fails += 1
                lines = []
                for r in rows[~rows["passed"]].itertuples():
                    lines += [f"repeat {r.repeat}: {x}" for x in reasons.get(r.response_id, ["failed"])]
                f = ET.SubElement(tc, "failure", message=lines[0][:500] if lines else "failed", type="ScorerFailure")
                f.text = "\n".join(lines)
        ts.set("tests", str(n))
        ts.set("failures", str(fails))
        ts.set("errors", str(errors))
        ts.set("time", f"{total_ms / 1000:.3f}")
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    from evalharness.redact import redact

    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    path.write_text("<?xml version='1.0' encoding='utf-8'?>\n" + redact(text), encoding="utf-8")
    return path
