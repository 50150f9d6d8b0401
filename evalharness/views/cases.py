"""Side by side: one case at a time across targets (or a run and its baseline), with filters."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evalharness.results.schema import RESPONSES, RESPONSES_FILE, SCORES, SCORES_FILE
from evalharness.views.tables import VERDICT_RESPONSE_COLUMNS, label_targets, read_many

CASE_RESPONSE_COLUMNS = VERDICT_RESPONSE_COLUMNS + ["messages", "output", "tool_calls", "finish_reason"]
CASE_SCORE_COLUMNS = ["response_id", "scorer", "score", "passed", "reason", "metric_only", "verdict",
                      "judge_model", "judge_error"]
KEY = ["suite", "case_id", "repeat"]


@dataclass
class CaseData:
    responses: pd.DataFrame  # one row per response, with `who` and `passed`
    scores: pd.DataFrame


def load_cases(run_dirs: list[Path]) -> CaseData:
    from evalharness.gate import response_verdicts

    responses = read_many(run_dirs, RESPONSES_FILE, CASE_RESPONSE_COLUMNS, RESPONSES)
    scores = read_many(run_dirs, SCORES_FILE, CASE_SCORE_COLUMNS, SCORES)
    verdicts = response_verdicts(responses, scores)
    return CaseData(label_targets(verdicts, len(run_dirs)), scores)


@dataclass(frozen=True)
class Filters:
    suites: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scorer: str | None = None  # keep cases scored by it (with failed_only: cases it failed)
    failed_only: bool = False
    flipped_only: bool = False  # passed in `baseline`, failed in another column
    baseline: str | None = None
    search: str = ""


def filter_keys(data: CaseData, f: Filters) -> list[tuple]:
    """The (suite, case_id, repeat) keys that pass the filters, in suite / case order."""
    r = data.responses
    if f.suites:
        r = r[r["suite"].isin(f.suites)]
    if f.tags:
        want = set(f.tags)
        r = r[r["tags"].map(lambda ts: bool(want & set(ts if ts is not None else [])))]
    keys = r[KEY].drop_duplicates()
    if f.scorer:
        s = data.scores[data.scores["scorer"] == f.scorer]
        if f.failed_only:
            s = s[~s["passed"].astype(bool)]
        ids = set(s["response_id"])
        keys = r[r["response_id"].isin(ids)][KEY].drop_duplicates()
    elif f.failed_only:
        keys = r[~r["passed"]][KEY].drop_duplicates()
    if f.flipped_only and f.baseline:
        piv = r.pivot_table(index=KEY, columns="who", values="passed", aggfunc="first")
        if f.baseline in piv.columns and len(piv.columns) > 1:
            others = piv.drop(columns=[f.baseline])
            flipped = piv[f.baseline].eq(True) & others.eq(False).any(axis=1)
            fk = set(flipped[flipped].index)
            keys = keys[[tuple(k) in fk for k in keys.itertuples(index=False)]]
        else:
            keys = keys.iloc[0:0]
    if f.search:
        needle = f.search.lower()
        hay = (r["case_id"].astype(str) + "\n" + r["messages"].fillna("") + "\n" + r["output"].fillna("")).str.lower()
        hit = r[hay.str.contains(needle, regex=False)][KEY].drop_duplicates()
        hs = set(map(tuple, hit.itertuples(index=False)))
        keys = keys[[tuple(k) in hs for k in keys.itertuples(index=False)]]
    keys = keys.sort_values(KEY)
    return [tuple(k) for k in keys.itertuples(index=False)]


def case_rows(data: CaseData, key: tuple) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(the responses for `key`, one per column, and each column's score rows)."""
    suite, case_id, repeat = key
    r = data.responses
    rows = r[(r["suite"] == suite) & (r["case_id"] == case_id) & (r["repeat"] == repeat)].sort_values("who")
    scores = {row.who: data.scores[data.scores["response_id"] == row.response_id]
              for row in rows.itertuples()}
    return rows, scores


def messages_text(messages_json: str | None) -> str:
    """The conversation as plain text lines ("user: ...")."""
    if not isinstance(messages_json, str) or not messages_json:
        return ""
    try:
        msgs = json.loads(messages_json)
    except ValueError:
        return str(messages_json)
    lines = []
    for m in msgs if isinstance(msgs, list) else []:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        lines.append(f"{m.get('role', '?')}: {content if content is not None else ''}")
        for tc in m.get("tool_calls") or []:
            fn = tc.get("function") or {}
            lines.append(f"  -> {fn.get('name')}({fn.get('arguments')})")
    return "\n".join(lines)


def text_diff(a: str, b: str, a_name: str, b_name: str) -> str:
    out = "\n".join(difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(), a_name, b_name, lineterm=""))
    return out or "(identical)"
