"""Agreement of evalharness's `tool_call` scorer with the Berkeley Function Calling Leaderboard's AST checker.

    python benchmarks/bfcl_agreement.py [--categories CATEGORY ...] [--per-category N] [--keep DIR]

1. Loads BFCL's non-live categories (simple_python, multiple, parallel, parallel_multiple,
   irrelevance) and live categories (live_simple, live_multiple, live_parallel,
   live_parallel_multiple: user-contributed functions and questions) from the `bfcl-eval` wheel
   (installed with --no-deps into a cache folder on first use; never a dependency of evalharness).
2. Converts them into evalharness suites: tools in OpenAI shape (BFCL's own GORILLA_TO_OPENAPI
   type table), possible answers as `expected_tool_calls` ("" -> null = may be omitted).
3. Generates model outputs: the gold answer, and systematic perturbations of it (a wrong value,
   a missing required argument, an extra argument, a wrong function name, an int sent as a
   string, a float sent for an int, parallel calls reordered, invalid JSON arguments, an
   optional argument left out, the last accepted value of a parameter instead of the first, a call
   where none is wanted).
4. Scores every output with `evalharness run --target recorded` (the real CLI and scorer) and
   with BFCL's `ast_checker`, and prints the agreement and every disagreement.

BFCL's pipeline rejects output it cannot decode before the AST checker runs, and scores
`irrelevance` as "no call made"; the script applies the same two rules on BFCL's side.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

BFCL_VERSION = "2026.3.23"
NON_LIVE = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
LIVE = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"]
CATEGORIES = NON_LIVE + LIVE
ROOT = Path(__file__).resolve().parents[1]


def load_bfcl(cache: Path):
    """Import BFCL's checker without its heavy dependencies (model_config pulls in every vendor SDK)."""
    try:
        import bfcl_eval  # noqa: F401
    except ImportError:
        target = cache / f"bfcl-eval-{BFCL_VERSION}"
        if not (target / "bfcl_eval").is_dir():
            print(f"installing bfcl-eval=={BFCL_VERSION} (--no-deps) into {target}", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                            f"bfcl-eval=={BFCL_VERSION}"], check=True)
        sys.path.insert(0, str(target))
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = collections.defaultdict(lambda: types.SimpleNamespace(underscore_to_dot=False))
    sys.modules["bfcl_eval.constants.model_config"] = stub
    from importlib.metadata import distribution

    from bfcl_eval.constants.enums import Language
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

    data = Path(distribution("bfcl-eval").locate_file("bfcl_eval/data"))
    return data, ast_checker, Language.PYTHON, GORILLA_TO_OPENAPI


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- conversion -----------------------------------------------------------------------------


def to_openai_schema(node: dict, mapping: dict) -> dict:
    out = copy.deepcopy(node)
    if "type" in out:
        out["type"] = mapping.get(out["type"], out["type"])
    if "properties" in out:
        out["properties"] = {k: to_openai_schema(v, mapping) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = to_openai_schema(out["items"], mapping)
    for k in ("optional", "default"):
        out.pop(k, None)
    return out


def to_tools(functions: list[dict], mapping: dict) -> list[dict]:
    tools = []
    for f in functions:
        params = to_openai_schema(f["parameters"], mapping)
        params["type"] = "object"
        tools.append({"type": "function", "function": {"name": f["name"], "description": f.get("description", ""),
                                                       "parameters": params}})
    return tools


def to_alternatives(values: list) -> list:
    """BFCL possible values -> ours: "" -> null; dicts are key -> alternatives (recursively).

    A bare value inside a dict (live_multiple_121 has `{"lateral": 10.5}`) is one alternative."""
    out = []
    for v in _as_list(values):
        if v == "":
            out.append(None)
        elif isinstance(v, dict):
            out.append({k: to_alternatives(vv) for k, vv in v.items()})
        elif isinstance(v, list):
            out.append([{k: to_alternatives(vv) for k, vv in x.items()} if isinstance(x, dict) else x for x in v])
        else:
            out.append(v)
    return out


def _as_list(values) -> list:
    return values if isinstance(values, list) else [values]


def to_expected(ground_truth: list[dict]) -> list[dict]:
    return [{"name": name, "arguments": {p: to_alternatives(vals) for p, vals in params.items()}}
            for call in ground_truth for name, params in call.items()]


# --- outputs ----------------------------------------------------------------------------------


def pick(values: list):
    """The first acceptable value (recursing into dicts of alternatives); None when only omission is allowed."""
    for v in _as_list(values):
        if v == "":
            continue
        if isinstance(v, dict):
            return {k: pick(vv) for k, vv in v.items() if pick_present(vv)}
        if isinstance(v, list):
            return [{k: pick(vv) for k, vv in x.items() if pick_present(vv)} if isinstance(x, dict) else x for x in v]
        return v
    return None


def pick_present(values: list) -> bool:
    return any(v != "" for v in _as_list(values))


def gold(ground_truth: list[dict]) -> list[dict]:
    return [{name: {p: pick(vals) for p, vals in params.items() if pick_present(vals)}}
            for call in ground_truth for name, params in call.items()]


def perturb(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + " zzz"
    if isinstance(value, list):
        return value + (value[:1] if value else ["zzz"])
    if isinstance(value, dict):
        return {**value, "zzz_key": 1}
    return "zzz"


def variants(case: dict, category: str, functions: list[dict]) -> list[tuple[str, list[dict] | None]]:
    """(label, BFCL-style model output) pairs; None output means undecodable (invalid JSON)."""
    if category == "irrelevance":
        f = functions[0]
        args = {p: 1 for p in f["parameters"].get("required", [])}
        return [("no_call", []), ("spurious_call", [{f["name"]: args}])]
    g = gold(case["ground_truth"])
    out = [("gold", g)]
    first_name, first_args = next(iter(g[0].items()))
    required = next((f["parameters"].get("required", []) for f in functions if f["name"] == first_name), [])
    if first_args:
        k = next(iter(first_args))
        out.append(("wrong_value", [{first_name: {**first_args, k: perturb(first_args[k])}}] + g[1:]))
    if required and required[0] in first_args:
        out.append(("missing_required", [{first_name: {k: v for k, v in first_args.items() if k != required[0]}}] + g[1:]))
    out.append(("extra_argument", [{first_name: {**first_args, "unexpected_arg": 1}}] + g[1:]))
    out.append(("wrong_function", [{first_name + "_v2": first_args}] + g[1:]))
    ints = [k for k, v in first_args.items() if isinstance(v, int) and not isinstance(v, bool)]
    if ints:
        out.append(("int_as_string", [{first_name: {**first_args, ints[0]: str(first_args[ints[0]])}}] + g[1:]))
        out.append(("float_for_int", [{first_name: {**first_args, ints[0]: float(first_args[ints[0]]) + 0.0}}] + g[1:]))
    optional = [p for p, vals in case["ground_truth"][0][first_name].items() if "" in vals and pick_present(vals)]
    if optional:
        out.append(("optional_omitted", [{first_name: {k: v for k, v in first_args.items() if k != optional[0]}}] + g[1:]))
    accepted = {p: [v for v in _as_list(vals) if v != ""] for p, vals in case["ground_truth"][0][first_name].items()}
    other = next((p for p, vs in accepted.items() if len(vs) > 1 and p in first_args), None)
    if other:
        out.append(("other_accepted", [{first_name: {**first_args, other: pick(accepted[other][-1:])}}] + g[1:]))
    if len(g) > 1:
        out.append(("reordered", list(reversed(g))))
        out.append(("one_call_missing", g[:-1]))
    out.append(("invalid_json", None))
    return out


def openai_calls(output: list[dict] | None) -> list[dict]:
    if output is None:
        return [{"type": "function", "function": {"name": "broken", "arguments": '{"unterminated": '}}]
    return [{"type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for c in output for n, a in c.items()]


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-category", type=int, default=None, help="only the first N cases of each category")
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated suites and run here")
    ap.add_argument("--categories", nargs="+", choices=CATEGORIES, default=CATEGORIES, metavar="CATEGORY",
                    help=f"BFCL categories to run (default: all of {', '.join(CATEGORIES)})")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "evalharness" / "bench")
    args = ap.parse_args()
    categories = [c for c in CATEGORIES if c in args.categories]
    data, ast_checker, python, mapping = load_bfcl(args.cache)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bfcl-agreement-"))
    suites_dir = work / "suites"
    suites_dir.mkdir(parents=True, exist_ok=True)
    bfcl_verdicts: dict[tuple[str, str], tuple[bool, str]] = {}
    for cat in categories:
        questions = read_jsonl(data / f"BFCL_v4_{cat}.json")
        answers = {} if cat == "irrelevance" else {a["id"]: a for a in read_jsonl(data / "possible_answer" / f"BFCL_v4_{cat}.json")}
        rows = []
        for q in questions[: args.per_category]:
            case = answers.get(q["id"], {"ground_truth": []})
            for label, output in variants(case, cat, q["function"]):
                cid = f"{q['id']}:{label}"
                if output is None:
                    verdict = (False, "undecodable output (BFCL rejects it before the AST checker)")
                elif cat == "irrelevance":
                    verdict = (not output, "no call made" if not output else "a call was made")
                else:
                    r = ast_checker(q["function"], output, case["ground_truth"], python, cat, "gpt-4o")
                    verdict = (bool(r["valid"]), json.dumps(r.get("error"))[:300])
                bfcl_verdicts[(cat, cid)] = verdict
                rows.append({"id": cid, "input": q["question"][0][-1]["content"], "tools": to_tools(q["function"], mapping),
                             "expected_tool_calls": to_expected(case["ground_truth"]),
                             "tool_calls": openai_calls(output)})
        (suites_dir / f"{cat}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        (suites_dir / f"{cat}.yaml").write_text(
            f"name: bfcl-{cat}\ncategory: tool_calling\ndescription: BFCL {cat} with gold and perturbed outputs\n"
            f"dataset: {cat}.jsonl\nscorers: [{{type: tool_call}}]\n")

    out = work / "reports"
    r = subprocess.run([sys.executable, "-m", "evalharness.cli", "run", str(suites_dir), "--target", "recorded",
                        "--out", str(out), "--no-cache"], capture_output=True, text=True,
                       env={**__import__("os").environ, "CI": "true", "PYTHONPATH": str(ROOT)})
    if r.returncode not in (0, 1):
        print(r.stdout, r.stderr, file=sys.stderr)
        return 2
    import pandas as pd

    (run,) = list(out.iterdir())
    scores = pd.read_parquet(run / "scores.parquet")
    ours = {(row.suite.removeprefix("bfcl-"), row.case_id): (bool(row.passed), row.reason)
            for row in scores.itertuples()}

    per_cat = collections.Counter()
    agree_cat = collections.Counter()
    per_label = collections.Counter()
    agree_label = collections.Counter()
    disagreements = []
    for key, (b_ok, b_why) in sorted(bfcl_verdicts.items()):
        o_ok, o_why = ours[key]
        label = key[1].rsplit(":", 1)[1]
        per_cat[key[0]] += 1
        per_label[label] += 1
        if o_ok == b_ok:
            agree_cat[key[0]] += 1
            agree_label[label] += 1
        else:
            disagreements.append((key, o_ok, o_why, b_ok, b_why))

    total = sum(per_cat.values())
    agree = sum(agree_cat.values())
    print(f"BFCL agreement: {agree}/{total} = {agree / total:.2%}  (bfcl-eval {BFCL_VERSION}, run {run})")
    print(f"{'category':24} {'pairs':>6} {'agree':>8}")
    for cat in categories:
        print(f"{cat:24} {per_cat[cat]:>6} {agree_cat[cat] / max(1, per_cat[cat]):>8.2%}")
    for group, cats in (("non-live", NON_LIVE), ("live", LIVE)):
        n, k = sum(per_cat[c] for c in cats), sum(agree_cat[c] for c in cats)
        if n:
            print(f"{'all ' + group:24} {n:>6} {k / n:>8.2%}  ({k}/{n})")
    warned = collections.Counter(cat for (cat, _), (ok, why) in ours.items() if ok and "overrides the tool schema" in why)
    if warned:
        print(f"\npassed with a warning (the expectation overrode the tool schema): {sum(warned.values())} "
              f"({', '.join(f'{c} {n}' for c, n in sorted(warned.items()))})")
    print(f"\n{'output kind':20} {'pairs':>6} {'agree':>8}")
    for label in sorted(per_label):
        print(f"{label:20} {per_label[label]:>6} {agree_label[label] / per_label[label]:>8.2%}")
    print(f"\n{len(disagreements)} disagreement(s):")
    for (cat, cid), o_ok, o_why, b_ok, b_why in disagreements:
        print(f"- {cat} {cid}: evalharness {'PASS' if o_ok else 'FAIL'} ({o_why}) | BFCL {'PASS' if b_ok else 'FAIL'} ({b_why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
