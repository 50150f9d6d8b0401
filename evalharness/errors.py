"""The errors every layer may raise, and what the command line makes of them.

- `ConfigError`: invalid configuration or usage (command-line flags, environment variables, targets
  files, a run folder that is not one): exit 2. It carries `Problem`s that name the file, line and field.
- `SuiteError`: a `ConfigError` found in a suite or a dataset (the suite loader's error).
- `InfraError`: a target or judge is unreachable, or a server could not start: exit 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConfigError(Exception):
    """Every problem found in the configuration, reported together (exit 2)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, where: str, field: str, message: str) -> "ConfigError":
        return cls([Problem(where, None, field, message)])


class SuiteError(ConfigError):
    """Problems in one or more suite or dataset files."""


class InfraError(RuntimeError):
    """A target or judge is unreachable, or a server could not start (exit 3)."""
