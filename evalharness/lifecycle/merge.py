"""`evalharness merge`: concatenate shard runs into one run, refuse overlaps, and gate it as a whole."""

from __future__ import annotations

from pathlib import Path

from evalharness.conclude import RunOutcome, conclude
from evalharness.errors import ConfigError, Problem
from evalharness.lifecycle.options import saved_options


def merge_runs(runs: list[Path], output: Path) -> RunOutcome:
    """Concatenate shard runs; refuse overlapping shards; one manifest; gates from the suites."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evalharness.results.manifest import read_manifest, utcnow
    from evalharness.results.schema import RESPONSES, RESPONSES_FILE, SCHEMA_VERSION, SCORES, SCORES_FILE
    from evalharness.results.writer import in_order, renumber, write_atomic
    from evalharness.suite.loader import load_suites

    problems = [Problem(str(r), None, "", "not a finished run folder") for r in runs
                if not (r / RESPONSES_FILE).is_file() or not (r / SCORES_FILE).is_file()]
    if problems:
        raise ConfigError(problems)
    if output.exists():
        raise ConfigError([Problem(str(output), None, "-o", "already exists")])
    manifests = [read_manifest(r) for r in runs]
    run_id = output.name
    resp = pa.concat_tables([pq.read_table(r / RESPONSES_FILE, schema=RESPONSES) for r in runs])
    scores = pa.concat_tables([pq.read_table(r / SCORES_FILE, schema=SCORES) for r in runs])
    keys = resp.select(["suite", "case_id", "target", "repeat"]).to_pandas()
    dup = keys[keys.duplicated()]
    if len(dup):
        first = dup.iloc[0]
        raise ConfigError([Problem(", ".join(map(str, runs)), None, "", f"shards overlap: {first.suite}/{first.case_id} "
                                  f"[{first.target}] appears twice ({len(dup)} duplicate rows)")])
    resp = resp.set_column(resp.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * resp.num_rows, pa.string()))
    scores = scores.set_column(scores.schema.get_field_index("run_id"), "run_id",
                               pa.array([run_id] * scores.num_rows, pa.string()))
    suites_meta = {s["name"]: s for m in manifests for s in m.get("suites", [])}
    manifest = {**manifests[0], "run_id": run_id, "started_at": min(m["started_at"] for m in manifests),
                "merged_at": utcnow(), "merged_from": [m["run_id"] for m in manifests],
                "suites": list(suites_meta.values()), "shard": None, "schema_version": SCHEMA_VERSION}
    missing = sorted({s["path"] for s in suites_meta.values() if not Path(s["path"]).is_file()})
    if missing:  # without its suite, a shard's gate would be dropped: refuse instead
        raise ConfigError([Problem(p, None, "", "suite file of a shard not found (its gate cannot be checked)")
                          for p in missing])
    paths = sorted({s["path"] for s in suites_meta.values()})
    suites = load_suites(paths) if paths else []
    # Rows in the run's order: suites as the first shard ran them, cases as in their files (a shard's own
    # case numbers count only its cases), then target and repeat.
    by_name = {s.name: [lc.case.id for lc in s.cases] for s in suites}
    resp, scores = in_order(renumber(resp, [(name, by_name.get(name, [])) for name in suites_meta],
                                     [t.get("name") for t in manifests[0].get("targets") or [] if isinstance(t, dict)]), scores)
    output.mkdir(parents=True)
    write_atomic(scores, output / SCORES_FILE)  # scores first, as the writer does
    write_atomic(resp, output / RESPONSES_FILE)
    shard_opts = saved_options({**(manifests[0].get("options") or {}), "paths": paths}, f"{runs[0]}/run.json")
    # The shards' own --baseline decides the merged run's regression gate, as it would have a whole run's.
    return conclude(output, suites, manifest, None, [], baseline_run=shard_opts.baseline,
                    baseline_target=shard_opts.baseline_target)
