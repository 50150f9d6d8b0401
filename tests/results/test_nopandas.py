"""pyarrow's pandas probe is answered "no" for the engine, and pandas still works when asked for."""

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = r"""
import sys
import pyarrow as pa, pyarrow.parquet as pq
from evalharness.results.nopandas import skip_pandas_probe
assert skip_pandas_probe() is True
t = pa.Table.from_pylist([{"a": 1.0, "s": "x"}, {"a": None, "s": None}])
pq.write_table(t, sys.argv[1])
back = pq.read_table(sys.argv[1])
assert back.to_pylist() == t.to_pylist()
assert "pandas" not in sys.modules, "pyarrow imported pandas"
import pandas as pd
# a Series before any pandas conversion: converted element by element, NaN -> null
assert pa.array(pd.Series([1.0, float("nan")]), from_pandas=True).to_pylist() == [1.0, None]
df = pd.read_parquet(sys.argv[1])
assert list(df["s"].isna()) == [False, True] and pa.lib._pandas_api.have_pandas
assert pa.Table.from_pandas(df, preserve_index=False).column("a").to_pylist() == [1.0, None]
print("ok")
"""


def test_probe_skipped_then_pandas_works(tmp_path):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "t.parquet")], capture_output=True, text=True,
                       cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_no_effect_when_pandas_is_loaded():
    import pandas  # noqa: F401

    from evalharness.results.nopandas import skip_pandas_probe

    assert skip_pandas_probe() is False
