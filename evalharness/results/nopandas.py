"""Keep pyarrow from importing pandas in processes that never use it.

pyarrow (26) imports pandas the first time it converts a Python list or reads a Parquet file, only to
ask whether the input is a pandas object. That import costs about 0.5 s of CPU (0.8 s with its
dependencies on this 2-core machine), and the engine never hands pyarrow a pandas object: the writer
converts lists, and the gate works on Arrow tables and plain rows.

`skip_pandas_probe()` answers that one probe with "not installed", for the calling thread only. It
changes nothing when pandas is already imported. Afterwards:
- anything that converts to or from pandas (`Table.to_pandas`, `pd.read_parquet`,
  `Table.from_pandas`) makes pyarrow import pandas at that moment, and from then on it behaves as
  usual;
- a pandas Series handed to `pa.array` before that is converted element by element, with the same
  result.
"""

from __future__ import annotations

import sys
import threading


class _NoPandasInThisThread:
    """A meta-path finder that refuses `pandas` to one thread, while that thread probes."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and (name == "pandas" or name.startswith("pandas.")):
            raise ImportError("pandas is not needed here (evalharness.results.nopandas)")
        return None


def skip_pandas_probe() -> bool:
    """Run pyarrow's pandas probe now, with pandas refused. True if the probe was answered "no"."""
    if "pandas" in sys.modules:
        return False
    import pyarrow as pa

    blocker = _NoPandasInThisThread()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([0])  # the probe: pyarrow asks whether a list is a pandas object
    finally:
        sys.meta_path.remove(blocker)
    return not pa.lib._pandas_api.have_pandas
