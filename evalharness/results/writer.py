"""Write results as they arrive: batches become atomic part files; `finish()` compacts them.

Layout while a run is in progress (or was interrupted)::

    RUN/parts/scores-000001.parquet      written first
    RUN/parts/responses-000001.parquet   written second: a response is "done" once it is here

`load_done()` reads the parts back for `--resume`; score rows whose response never reached a
responses part are dropped, so a crash between the two writes loses nothing and duplicates nothing.
Rows are stored in completion order; `finish()` (and `load_done`) put them in the run's order
(`in_order`: suite, case, target, repeat), so a resumed run is ordered like one that never stopped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from evalharness.results.schema import ORDER_COLUMNS, RESPONSES_FILE, SCORES_FILE

# pyarrow is imported where a table is built, not with this module: a run creates its writer before
# the first request, and the import (~0.2 s of CPU) runs meanwhile in the engine's warm-up thread.


def write_atomic(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        # A failed write (a full disk) gives back what it took, so run.json can still say what happened.
        tmp.unlink(missing_ok=True)
        raise


class RunWriter:
    def __init__(self, run_dir: Path, batch_rows: int = 1000, batch_seconds: float = 2.0):
        self.run_dir = run_dir
        self.parts = run_dir / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self._responses: list[dict] = []
        self._scores: list[dict] = []
        self._last = time.monotonic()
        existing = sorted(self.parts.glob("responses-*.parquet"))
        self._n = int(existing[-1].stem.split("-")[1]) if existing else 0

    def add(self, response: dict, scores: list[dict]) -> None:
        self._responses.append(response)
        self._scores.extend(scores)
        if len(self._responses) >= self.batch_rows or time.monotonic() - self._last >= self.batch_seconds:
            self.flush()

    def add_scores(self, scores: list[dict]) -> None:
        """Score rows for responses already stored in this run's final responses file (`rescore`)."""
        self._scores.extend(scores)
        if len(self._scores) >= 4 * self.batch_rows:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._responses and not self._scores:
            return
        import pyarrow as pa

        from evalharness.results.schema import RESPONSES, SCORES

        n = self._n + 1
        scores_part = self.parts / f"scores-{n:06d}.parquet"
        write_atomic(pa.Table.from_pylist(self._scores, schema=SCORES), scores_part)
        if self._responses:
            try:
                write_atomic(pa.Table.from_pylist(self._responses, schema=RESPONSES),
                              self.parts / f"responses-{n:06d}.parquet")
            except BaseException:
                # Its scores would be orphans (dropped on resume anyway): give their room back too, and
                # keep the rows buffered for the next attempt.
                scores_part.unlink(missing_ok=True)
                raise
        self._n = n
        self._responses.clear()
        self._scores.clear()

    def finish(self) -> tuple[Path, Path]:
        """Flush, then merge all parts (and any earlier final files) into the two result files."""
        final_r, final_s = self.run_dir / RESPONSES_FILE, self.run_dir / SCORES_FILE
        if final_r.exists() or final_s.exists() or any(self.parts.glob("*.parquet")):
            self.flush()
            responses, scores = load_done(self.run_dir)
        else:  # nothing stored yet (a short run): the buffered rows become the final files directly
            import pyarrow as pa

            from evalharness.results.schema import RESPONSES, SCORES

            responses, scores = _merged(pa.Table.from_pylist(self._responses, schema=RESPONSES),
                                        pa.Table.from_pylist(self._scores, schema=SCORES))
            self._responses.clear()
            self._scores.clear()
        write_atomic(scores, final_s)  # scores first: a response counts as stored once it is in its file
        write_atomic(responses, final_r)
        for p in self.parts.glob("*.parquet"):
            p.unlink()
        for p in self.parts.glob("*.tmp"):
            p.unlink()
        self.parts.rmdir()
        return final_r, final_s


def _read_many(paths: list[Path], schema):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p, schema=schema) for p in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def load_done(run_dir: Path):
    """Everything stored for a run so far (responses, scores): final files plus parts, de-duplicated."""
    from evalharness.results.schema import RESPONSES, SCORES

    parts = run_dir / "parts"
    r_paths = [run_dir / RESPONSES_FILE] if (run_dir / RESPONSES_FILE).exists() else []
    s_paths = [run_dir / SCORES_FILE] if (run_dir / SCORES_FILE).exists() else []
    if parts.is_dir():
        r_paths += sorted(parts.glob("responses-*.parquet"))
        s_paths += sorted(parts.glob("scores-*.parquet"))
    return _merged(_read_many(r_paths, RESPONSES), _read_many(s_paths, SCORES))


def _merged(responses, scores):
    """De-duplicated responses, and the de-duplicated scores of those responses only, in order."""
    import pyarrow.compute as pc

    responses = _dedupe(responses, ["response_id"])
    scores = scores.filter(pc.is_in(scores["response_id"], value_set=responses["response_id"]))
    return in_order(responses, _dedupe(scores, ["response_id", "scorer"]))


def in_order(responses, scores=None):
    """Responses sorted by ORDER_COLUMNS (rows without them last, in their stored order); each response's
    scores take its place, in their stored order (the case's scorers' order). The sort is stable; nulls
    sort last (Arrow's default)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = [(c, "ascending") for c in ORDER_COLUMNS if c in responses.column_names]
    if responses.num_rows > 1 and keys:
        responses = _take(responses, pc.sort_indices(responses, sort_keys=keys))
    if scores is not None and scores.num_rows > 1:
        rank = pc.index_in(scores["response_id"], value_set=responses["response_id"])
        scores = _take(scores, pc.sort_indices(pa.table({"rank": rank}), sort_keys=[("rank", "ascending")]))
    return responses, scores


def _take(table, indices):
    """`table.take(indices)`, without the copy when it is in that order already (a rescore of a run)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pc.all(pc.equal(indices, pa.array(range(len(indices)), indices.type))).as_py():
        return table
    return table.take(indices)


def _dedupe(table, keys: list[str]):
    """Keep the last row for each key (a later part supersedes an earlier one)."""
    if table.num_rows == 0:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pa.array(range(table.num_rows), pa.int64())
    t = table.append_column("__i", idx)
    last = t.group_by(keys, use_threads=False).aggregate([("__i", "max")])["__i_max"]
    keep = pc.sort_indices(last)
    return table.take(pc.take(last, keep))


def renumber(responses, suites: list[tuple[str, list[str]]], targets: list[str] | None = None):
    """Responses with `suite_index` and `case_index` taken from `suites` ((name, case ids) in the run's
    order: `merge` and `rescore` number rows from the suite files they load; a row whose case is not
    there gets nulls and sorts last), and null `target_index`es filled from `targets` (names in order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalharness.results.schema import RESPONSES

    for f in RESPONSES:  # a table read from a run before schema version 3 lacks the order columns
        if f.name not in responses.column_names:
            responses = responses.append_column(f, pa.nulls(responses.num_rows, f.type))
    where = {(name, cid): (si, ci) for si, (name, ids) in enumerate(suites) for ci, cid in enumerate(ids)}
    at = [where.get(k, (None, None)) for k in zip(responses["suite"].to_pylist(), responses["case_id"].to_pylist())]
    for k, col in enumerate(("suite_index", "case_index")):
        responses = responses.set_column(responses.schema.get_field_index(col), col,
                                         pa.array([a[k] for a in at], pa.int32()))
    if targets:
        order = {t: i for i, t in enumerate(targets)}
        filled = pa.array([order.get(t) for t in responses["target"].to_pylist()], pa.int32())
        col = responses.schema.get_field_index("target_index")
        responses = responses.set_column(col, "target_index", pc.coalesce(responses["target_index"], filled))
    return responses
