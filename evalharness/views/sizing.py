"""Right-sizing: quality against cost per target, the Pareto frontier, and the routing table
("the cheapest target that meets the bar", per category or per tag)."""

from __future__ import annotations

import pandas as pd

from evalharness.views.tables import rate_cell

COSTS = {"latency": "p50 latency (ms)", "tokens": "tokens per case"}
SCOPES = ("overall", "category", "suite", "tag")


def _cost(df: pd.DataFrame, cost: str) -> float:
    if cost == "latency":
        return float(df["latency_ms"].quantile(0.5))
    if cost == "tokens":
        t = df["input_tokens"].astype("float64").fillna(0) + df["output_tokens"].astype("float64").fillna(0)
        return float(t.mean())
    raise ValueError(f"unknown cost {cost!r}: use one of {', '.join(COSTS)}")


def _groups(verdicts: pd.DataFrame, scope: str):
    if scope == "overall":
        yield "overall", verdicts
    elif scope in ("category", "suite"):
        yield from verdicts.groupby(scope, sort=True)
    elif scope == "tag":
        ex = verdicts.assign(tag=verdicts["tags"].map(lambda ts: list(ts) if ts is not None else [])).explode("tag")
        yield from ex[ex["tag"].notna()].groupby("tag", sort=True)
    else:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")


def quality_cost(verdicts: pd.DataFrame, scope: str = "overall", cost: str = "latency") -> pd.DataFrame:
    """One row per scope value x target: pass rate with its Wilson CI, n, cost, and `pareto`
    (no other target in that scope is at least as good and at least as cheap, and better in one)."""
    cols = ["scope", "who", "pass_rate", "ci_low", "ci_high", "n", "cost", "pareto"]
    rows = []
    for key, part in _groups(verdicts, scope):
        for who, df in part.groupby("who", sort=True):
            rows.append({"scope": str(key), "who": who, **rate_cell(int(df["passed"].sum()), len(df)),
                         "cost": _cost(df, cost)})
    out = pd.DataFrame(rows, columns=cols[:-1])
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["pareto"] = False
    for _, part in out.groupby("scope"):
        for i, r in part.iterrows():
            dominated = ((part["pass_rate"] >= r.pass_rate) & (part["cost"] <= r.cost)
                         & ((part["pass_rate"] > r.pass_rate) | (part["cost"] < r.cost))).any()
            out.loc[i, "pareto"] = not dominated and pd.notna(r.cost)
    return out[cols]


def routing(qc: pd.DataFrame, bar: float, conservative: bool = False) -> pd.DataFrame:
    """Per scope value: the cheapest target whose pass rate (or, `conservative`, the lower end of its 95%
    CI) meets `bar`. A scope no target meets gets target None and names its best target instead."""
    rows = []
    for key, part in qc.groupby("scope", sort=True):
        q = part["ci_low"] if conservative else part["pass_rate"]
        ok = part[q >= bar].sort_values(["cost", "pass_rate"], ascending=[True, False])
        best = part.sort_values("pass_rate", ascending=False).iloc[0]
        if len(ok):
            r = ok.iloc[0]
            rows.append({"scope": key, "target": r.who, "pass_rate": r.pass_rate, "ci_low": r.ci_low,
                         "cost": r.cost, "n": int(r.n), "meets_bar": True, "note": ""})
        else:
            rows.append({"scope": key, "target": None, "pass_rate": best.pass_rate, "ci_low": best.ci_low,
                         "cost": best.cost, "n": int(best.n), "meets_bar": False,
                         "note": f"no target meets {bar:g}; best is {best.who} at {best.pass_rate:.3f}"})
    out = pd.DataFrame(rows, columns=["scope", "target", "pass_rate", "ci_low", "cost", "n", "meets_bar", "note"])
    out["target"] = pd.Series([r["target"] for r in rows], dtype=object, index=out.index)  # None stays None
    return out


def routing_document(table: pd.DataFrame, *, bar: float, scope: str, cost: str, conservative: bool,
                     runs: list[str]) -> dict:
    """The routing table as a YAML-ready document."""
    routes = {}
    for r in table.itertuples():
        entry = {"target": r.target if isinstance(r.target, str) else None, "pass_rate": round(float(r.pass_rate), 4), "ci_low": round(float(r.ci_low), 4),
                 "n": int(r.n), f"cost_{cost}": round(float(r.cost), 2)}
        if not r.meets_bar:
            entry["note"] = r.note
        routes[str(r.scope)] = entry
    return {"bar": bar, "by": scope, "cost": cost, "conservative": conservative, "runs": runs,
            "unrouted": [str(r.scope) for r in table.itertuples() if not r.meets_bar], "routes": routes}
