"""The run lifecycle: configure -> start targets and judges -> generate and score -> conclude.

- `options`: the options of a run, and how run.json stores them (for `--resume`);
- `configure`: flags, targets files and suites -> target and judge configurations, the baseline;
- `endpoints`: target kinds and judges started (targets/kinds.py) -> runtimes with clients;
- `execute`: one run from start to the gate (`execute`), its failure handling;
- `calibrate`, `merge`: the two commands built on a run.

The public face over it is `evalharness.api`; the command line calls that.
"""
