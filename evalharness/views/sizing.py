"""Right-sizing: quality against cost per target, the Pareto frontier, and the routing table
("the cheapest target that meets the bar", per category or per tag)."""

from __future__ import annotations

import pandas as pd

from evalharness.views.tables import wilson_frame

COSTS = {"latency": "p50 latency (ms)", "tokens": "tokens per case"}
SCOPES = ("overall", "category", "suite", "tag")


def _frame(verdicts: pd.DataFrame, scope: str) -> pd.DataFrame:
    v = verdicts
    if scope == "overall":
        v = v.assign(scope="overall")
    elif scope in ("category", "suite"):
        v = v.assign(scope=v[scope].astype(str))
    elif scope == "tag":
        v = v.assign(scope=v["tags"].map(lambda ts: list(ts) if ts is not None else [])).explode("scope")
        v = v[v["scope"].notna()]
    else:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    return v


def _pareto(rate, cost) -> list[bool]:
    """Not dominated: no other point is at least as good and at least as cheap, and strictly better in one."""
    import numpy as np

    r, c = np.asarray(rate, float)[:, None], np.asarray(cost, float)[:, None]
    dominated = ((r.T >= r) & (c.T <= c) & ((r.T > r) | (c.T < c))).any(axis=1)
    return list(~dominated & ~np.isnan(c[:, 0]))


def quality_cost(verdicts: pd.DataFrame, scope: str = "overall", cost: str = "latency") -> pd.DataFrame:
    """One row per scope value x target: pass rate with its Wilson CI, n, cost (p50 latency or mean tokens
    per case), and `pareto` (no other target in that scope is at least as good and as cheap, and better in one)."""
    cols = ["scope", "who", "pass_rate", "ci_low", "ci_high", "n", "cost", "pareto"]
    if cost not in COSTS:
        raise ValueError(f"unknown cost {cost!r}: use one of {', '.join(COSTS)}")
    v = _frame(verdicts, scope)
    if v.empty:
        return pd.DataFrame(columns=cols)
    if cost == "tokens":
        v = v.assign(cost=v["input_tokens"].astype("float64").fillna(0) + v["output_tokens"].astype("float64").fillna(0))
    else:
        v = v.assign(cost=v["latency_ms"].astype("float64"))
    g = v.groupby(["scope", "who"], sort=True)
    out = g.agg(passes=("passed", "sum"), n=("passed", "size")).reset_index()
    out["cost"] = (g["cost"].median() if cost == "latency" else g["cost"].mean()).to_numpy()
    out = pd.concat([out, wilson_frame(out["passes"], out["n"])], axis=1)
    out["pareto"] = False
    for _, idx in out.groupby("scope").groups.items():
        out.loc[idx, "pareto"] = _pareto(out.loc[idx, "pass_rate"], out.loc[idx, "cost"])
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


def parse_size(size: str | None) -> float | None:
    """'135M' / '7B' / '1.5b' / '270m' -> parameters; None or unparsable -> None (checked where it is declared)."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMbBtT]?)\s*", size or "")
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[m.group(2).lower()]


def right_size(checks: list[dict], categories: dict[str, str], targets: list[dict]) -> list[dict]:
    """Per category: the smallest target that passes every gate check of that category's suites, or none.

    `checks` are gate checks as dicts (suite, target, passed, ...); `categories` maps suite -> category;
    `targets` are the run's targets in run order, each with `name` and optional `size` ('135M').
    "Smallest" is the declared size; targets without one come after every sized target, in run order.
    A category whose suites have no gate has no bar: it says so and names no target."""
    order = {t["name"]: i for i, t in enumerate(targets)}
    size = {t["name"]: parse_size(t.get("size")) for t in targets}
    key = {n: (size[n] is None, size[n] or 0.0, order[n]) for n in order}
    by_cat: dict[str, dict[str, list[dict]]] = {}
    for c in checks:
        if c["target"] not in order or c.get("against"):  # regression checks compare runs, not sizes
            continue
        cat = categories.get(c["suite"], "uncategorised")
        by_cat.setdefault(cat, {}).setdefault(c["target"], []).append(c)
    out = []
    for cat in sorted(set(categories.values())):
        per = by_cat.get(cat, {})
        if not per:
            out.append({"category": cat, "target": None, "size": None, "meets_bar": False,
                        "note": "no gate in this category: nothing to meet", "passed_checks": {}})
            continue
        passed = {n: sum(bool(c["passed"]) for c in cs) for n, cs in per.items()}
        total = {n: len(cs) for n, cs in per.items()}
        meeting = sorted((n for n in per if passed[n] == total[n]), key=key.__getitem__)
        counts = {n: f"{passed[n]}/{total[n]}" for n in sorted(per, key=key.__getitem__)}
        if meeting:
            n = meeting[0]
            out.append({"category": cat, "target": n, "size": next(t.get("size") for t in targets if t["name"] == n),
                        "meets_bar": True, "note": "", "passed_checks": counts})
        else:
            rate = {n: passed[n] / total[n] for n in per}
            top = sorted((n for n in per if rate[n] == max(rate.values())), key=key.__getitem__)
            if not passed[top[0]]:
                note = "none meets the bar; no model passes any of its checks"
            else:
                tied = f"; tied with {', '.join(top[1:])}" if len(top) > 1 else ""
                note = f"none meets the bar; best is {top[0]} ({counts[top[0]]} checks{tied})"
            out.append({"category": cat, "target": None, "size": None, "meets_bar": False,
                        "note": note, "passed_checks": counts})
    return out


def right_size_document(verdict: list[dict], run: str) -> dict:
    """The right-size verdict as a routing table (YAML-ready): category -> smallest target meeting its gates."""
    routes = {}
    for r in verdict:
        entry = {"target": r["target"], "checks_passed": r["passed_checks"]}
        if r["size"]:
            entry["size"] = r["size"]
        if not r["meets_bar"]:
            entry["note"] = r["note"]
        routes[r["category"]] = entry
    return {"by": "category", "bar": "each suite's gate", "runs": [run],
            "unrouted": [r["category"] for r in verdict if not r["meets_bar"]], "routes": routes}
