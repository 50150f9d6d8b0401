"""evalharness: evaluation harness and CI quality gate for OpenAI-compatible endpoints.

The public Python API lives in `evalharness.api`; its main names are also available here, imported on
first use so that `import evalharness` stays cheap (the command line's start-up depends on it):

    import evalharness

    evalharness.run("suites/", targets=["recorded"]).assert_passed()

`compare` is `evalharness.api.compare` (`evalharness.compare` is the comparison module).
"""

__version__ = "0.1.0"

_API = frozenset({
    "run", "resume", "rescore", "merge", "calibrate", "snapshot", "generate", "load_run",
    "Endpoint", "Serve", "Transport", "JudgeSpec", "Baseline", "Selection", "Output", "Cache",
    "RunResult", "CaseFailure", "Run", "RunManifest", "Comparison",
    "ConfigError", "SuiteError", "InfraError", "ManifestError",
})


def __getattr__(name: str):
    if name in _API:
        from evalharness import api

        value = getattr(api, name)
        globals()[name] = value  # once imported, a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
