"""Load suite files into validated cases with bound scorers; report every problem at once."""

from __future__ import annotations

import re

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from evalharness.scorers.base import UnknownScorer, get_scorer
from evalharness.scorers.bind import BoundScorer, ScorerConfigError, bind, with_unique_names
from evalharness.suite.datasets import read_rows
from evalharness.suite.errors import Problem, SuiteError
from evalharness.suite.model import CASE_KEYS, Case, ScorerSpec, Suite
from evalharness.suite.render import MAX_RENDER_CHARS, RenderBudget, RenderLimit
from evalharness.suite.trust import endpoint_problems, resolve_path, suite_root
from evalharness.suite.yamlsrc import Located, encoding_problems, load_yaml, read_text

SUITE_GLOBS = ("*.yaml", "*.yml")



@functools.lru_cache(maxsize=1)
def _jinja():
    """The bounded sandbox that renders dataset prompts (imported only for a suite with a `prompt:`)."""
    from jinja2 import StrictUndefined

    from evalharness.suite.sandbox import BoundedEnvironment

    return BoundedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Every key the suite format knows, for "did you mean" suggestions."""
    from evalharness.scorers.base import all_scorers
    from evalharness.suite.model import Defaults, Gate, LmEval, Message

    keys: set[str] = set()
    models = [Suite, Case, Defaults, Gate, Message, ScorerSpec, LmEval] + [i.args for i in all_scorers().values()]
    for m in models:
        for name, f in m.model_fields.items():
            keys.add(f.alias or name)
    return frozenset(keys)


@dataclass(frozen=True)
class LoadedCase:
    case: Case
    scorers: tuple[BoundScorer, ...]
    source: str  # "file:line" the case came from


@dataclass(frozen=True)
class LoadedSuite:
    path: Path
    suite: Suite
    cases: tuple[LoadedCase, ...]
    content_hash: str

    @property
    def name(self) -> str:
        return self.suite.name

    @property
    def category(self) -> str:
        return self.suite.category


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Suite files under the given files/directories (recursively), sorted, without duplicates."""
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_dir():
            for g in SUITE_GLOBS:
                for f in sorted(p.rglob(g)):
                    found[f] = None
        else:
            found[p] = None
    return sorted(found)


def load_suites(paths: Iterable[str | Path], *, root: str | Path | None = None,
                trust_endpoints: bool = False) -> list[LoadedSuite]:
    """Load every suite under `paths`. Each one's paths must stay inside its root: `root`
    (--suite-root) when given, else the file or directory named in `paths` it was found under."""
    paths = list(paths)
    roots: dict[Path, Path] = {}
    for p in paths:
        for f in discover([p]):
            roots.setdefault(f, Path(root) if root is not None else suite_root(Path(p)))
    problems: list[Problem] = []
    suites: list[LoadedSuite] = []
    if not roots:
        raise SuiteError([Problem(", ".join(map(str, paths)), None, "", "no suite files (*.yaml) found")])
    for f in sorted(roots):
        try:
            suites.append(load_suite(f, root=roots[f], trust_endpoints=trust_endpoints))
        except SuiteError as e:
            problems.extend(e.problems)
    seen: dict[str, Path] = {}
    for s in suites:
        if s.name in seen:
            problems.append(Problem(str(s.path), 1, "name", f"suite name '{s.name}' is also used by {seen[s.name]}"))
        seen.setdefault(s.name, s.path)
    if problems:
        raise SuiteError(problems)
    return suites


def load_suite(path: str | Path, *, root: str | Path | None = None, trust_endpoints: bool = False) -> LoadedSuite:
    """One suite file. Its paths stay inside `root` (default: its own directory); it may name no
    endpoint or credential unless `trust_endpoints` (--trust-suite-endpoints). See suite/trust.py."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise SuiteError([Problem(file, None, "", "file not found")])
    text = read_text(path)
    raw = text.encode("utf-8")  # the same bytes (the text decoded strictly): hashed for provenance
    src, problems = load_yaml(text, file, vocabulary)
    if src is None:
        raise SuiteError(problems)
    if not isinstance(src.data, dict):
        raise SuiteError([Problem(file, 1, "", "a suite file must be a mapping of keys (name, category, cases, ...)")])
    src.base_dir, src.root = path.parent, Path(root) if root is not None else path.parent
    if not trust_endpoints:
        problems.extend(endpoint_problems(src.data, file, src.line))
    suite: Suite | None = None
    try:
        suite = Suite.model_validate(src.data)
    except ValidationError as e:
        problems.extend(src.problems(e))
    # Go on checking whatever can be checked, so every problem is reported at once.
    suite_scorers = _bind_raw(src, src.data.get("scorers"), ("scorers",), problems)
    hasher = hashlib.sha256(raw)
    raw_cases: list = []
    if isinstance(src.data.get("cases"), list):
        raw_cases = [(src, ("cases", i), c, f"{file}:{src.line(('cases', i))}") for i, c in enumerate(src.data["cases"])]
    elif suite is not None and suite.dataset is not None:
        raw_cases = _dataset_cases(path, src, suite, problems, hasher)
    elif suite is not None and suite.lm_eval is not None:
        from evalharness.suite.lmeval import lmeval_cases

        raw_cases = lmeval_cases(path, src, suite.lm_eval, problems, hasher)

    raw_cases = _expand_mutations(src, suite, raw_cases, problems)
    cases: list[LoadedCase] = []
    first_line: dict[str, str] = {}
    shared_scorers = with_unique_names(suite_scorers)  # one tuple for every case without scorers of its own
    for loc_src, loc, data, source in raw_cases:
        case = _validate_case(loc_src, data, loc, problems)
        if case is None:
            continue
        if case.id in first_line:
            problems.append(
                Problem(loc_src.file, loc_src.line(loc + ("id",)), loc_src.field(loc + ("id",)),
                        f"duplicate case id '{case.id}' (first at {first_line[case.id]})")
            )
            continue
        first_line[case.id] = source
        extra = _bind_all(loc_src, case.scorers, loc + ("scorers",), problems) if case.scorers else []
        scorers = with_unique_names(suite_scorers + extra) if extra else shared_scorers
        if not src.data.get("scorers") and not case.scorers:
            problems.append(Problem(loc_src.file, loc_src.line(loc), loc_src.field(loc),
                                    "case has no scorers (add suite-level `scorers` or case `scorers`)"))
        cases.append(LoadedCase(case, scorers, source))
    if suite is not None:
        for i, qid in enumerate(suite.quarantine):
            if qid not in first_line:
                problems.append(Problem(file, src.line(("quarantine", i)), f"quarantine[{i}]",
                                        f"no case with id '{qid}' in this suite"))
    if not raw_cases and not problems:
        problems.append(Problem(file, src.line(("cases",)), "cases", "suite has no cases"))
    if problems or suite is None:
        raise SuiteError(dict.fromkeys(problems))
    return LoadedSuite(path, suite, tuple(cases), hasher.hexdigest())


def _expand_mutations(src: Located, suite: Suite | None, raw_cases: list, problems: list[Problem]) -> list:
    """Add `<id>~<mutator>` variants after each case, for every mutator in `mutate:`."""
    from evalharness.mutators import MUTATORS, UnknownMutator, mutate_case

    if suite is None or not suite.mutate:
        return raw_cases
    names = []
    for i, name in enumerate(suite.mutate):
        if name in MUTATORS:
            names.append(name)
        else:
            problems.append(Problem(src.file, src.line(("mutate", i)), f"mutate[{i}]", str(UnknownMutator(name))))
    out = []
    for loc_src, loc, data, source in raw_cases:
        out.append((loc_src, loc, data, source))
        if not isinstance(data, dict) or "id" not in data or ("input" not in data and "messages" not in data):
            continue  # reported when the case itself is validated
        for name in names:
            try:
                out.append((loc_src, loc, mutate_case(data, name, suite.mutate_seed), f"{source} ~{name}"))
            except (TypeError, KeyError, ValueError, AttributeError):
                continue  # a malformed parent is reported on its own
    return out


def _validate_case(src: Located, data: Any, loc: tuple, problems: list[Problem]) -> Case | None:
    if not isinstance(data, dict):
        problems.append(Problem(src.file, src.line(loc), src.field(loc), "a case must be a mapping"))
        return None
    # Every case passes here, inline, from a dataset row, rendered or mutated: no string it holds may fail
    # to encode later (sent as JSON, stored with Arrow).
    unencodable = encoding_problems(src, data, loc)
    if unencodable:
        problems.extend(unencodable)
        return None
    try:
        return Case.model_validate(data)
    except ValidationError as e:
        problems.extend(src.problems(e, loc))
        specs = data.get("scorers")
        if not any(x["loc"][:1] == ("scorers",) for x in e.errors()):
            _bind_raw(src, specs, loc + ("scorers",), problems)
        return None


def _bind_raw(src: Located, specs: Any, loc: tuple, problems: list[Problem]) -> list[BoundScorer]:
    """Bind suite-level scorer specs from raw YAML (the suite model may not have validated)."""
    if not isinstance(specs, list):
        return []
    out = []
    for i, s in enumerate(specs):
        try:
            spec = ScorerSpec.model_validate(s)
        except ValidationError as e:
            if not isinstance(s, dict):
                continue  # reported by the suite model
            problems.extend(src.problems(e, loc + (i,)))
            continue
        b = _bind_one(src, spec, loc + (i,), problems)
        if b is not None:
            out.append(b)
    return out


def _bind_all(src: Located, specs: list[ScorerSpec], loc: tuple, problems: list[Problem]) -> list[BoundScorer]:
    out = []
    for i, spec in enumerate(specs):
        b = _bind_one(src, spec, loc + (i,), problems)
        if b is not None:
            out.append(b)
    return out


def _bind_one(src: Located, spec: ScorerSpec, loc: tuple, problems: list[Problem]) -> BoundScorer | None:
    spec = _resolve_path_args(src, spec, loc, problems)
    if spec is None:
        return None
    try:
        return bind(spec)
    except UnknownScorer as e:
        problems.append(Problem(src.file, src.line(loc + ("type",)), src.field(loc + ("type",)), str(e)))
    except ValidationError as e:
        problems.extend(src.problems(e, loc))
    except ScorerConfigError as e:
        problems.append(Problem(src.file, src.line(loc + (e.field,)), src.field(loc + (e.field,)), str(e)))
    return None


def _resolve_path_args(src: Located, spec: ScorerSpec, loc: tuple, problems: list[Problem]) -> ScorerSpec | None:
    """The spec with every argument its scorer declares a path (`json_schema_extra={"suite_path": True}`)
    resolved inside the suite root; None (and a problem) when one leaves it. A judge template that names
    a built-in one (`judges/<name>`) stays a name."""
    if ":" in spec.type or src.base_dir is None:
        return spec  # ragas:/deepeval: adapters take no paths; a spec outside a suite file is trusted
    try:
        info = get_scorer(spec.type)
    except UnknownScorer:
        return spec  # bind reports it
    args, updates = spec.scorer_args(), {}
    for name, f in info.args.model_fields.items():
        key, extra = f.alias or name, f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        value = args.get(key)
        if not extra.get("suite_path") or not isinstance(value, str) or _builtin_template(value):
            continue
        resolved, why = resolve_path(value, src.base_dir, src.root or src.base_dir)
        if why:
            problems.append(Problem(src.file, src.line(loc + (key,)), src.field(loc + (key,)), why))
            return None
        updates[key] = str(resolved)
    return ScorerSpec.model_validate({**spec.model_dump(by_alias=True, exclude_none=True), **updates}) if updates else spec


def _builtin_template(value: str) -> bool:
    from evalharness.judges.templates import judges_dir

    return "/" not in value and "\\" not in value and (judges_dir() / value).is_file()


def _dataset_cases(path: Path, src: Located, suite: Suite, problems: list[Problem], hasher) -> list:
    ds_path, why = resolve_path(suite.dataset, path.parent, src.root or path.parent)
    if why:
        problems.append(Problem(src.file, src.line(("dataset",)), "dataset", why))
        return []
    rows, columns, ds_problems = read_rows(ds_path)
    for p in ds_problems:
        # Row problems point into the dataset; file-level ones point at the suite's `dataset:` line.
        problems.append(p if p.line else Problem(src.file, src.line(("dataset",)), "dataset", f"{ds_path}: {p.message}"))
    if ds_problems and not rows:
        return []
    try:
        hasher.update(ds_path.read_bytes())
    except OSError as e:
        problems.append(Problem(src.file, src.line(("dataset",)), "dataset", f"{ds_path}: cannot read: {e.strerror or e}"))
        return []
    fields = suite.fields or {c: c for c in columns if c in CASE_KEYS}
    for col, key in fields.items():
        if col not in columns:
            problems.append(Problem(src.file, src.line(("fields", col)), f"fields.{col}",
                                    f"column '{col}' is not in {ds_path.name} (columns: {', '.join(columns)})"))
        if key not in CASE_KEYS:
            problems.append(Problem(src.file, src.line(("fields", col)), f"fields.{col}",
                                    f"'{key}' is not a case key (one of: {', '.join(CASE_KEYS)})"))
    template = None
    if suite.prompt is not None:
        try:
            template = _fast_template(suite.prompt) or _jinja().from_string(suite.prompt)
        except Exception as e:  # TemplateSyntaxError, RenderLimit (source too long), RecursionError (nesting)
            problems.append(Problem(src.file, src.line(("prompt",)), "prompt", f"invalid template: {e}"))
    if problems:
        return []
    out = []
    ds_str = str(ds_path)
    ds_src = Located(ds_str, None, hide_prefix=2)  # the line names the row; fields read plainly
    render = None
    if template is not None:
        budget = RenderBudget()
        render = (functools.partial(template.render_row, budget) if isinstance(template, _PlainTemplate)
                  else functools.partial(budget.render, template))
    for n, row in rows:
        case: dict[str, Any] = {}
        meta = {}
        for col, val in row.items():
            if col in fields:
                case[fields[col]] = _coerce(fields[col], val)
            else:
                meta[col] = val
        if meta:
            case["metadata"] = {**meta, **(case.get("metadata") or {})}
        case.setdefault("id", f"row-{n}")
        if render is not None:
            try:
                case["input"] = render(row)
            except RenderLimit as e:  # the next rows would most likely spend as long: stop here
                problems.append(Problem(ds_str, n, "prompt", str(e)))
                break
            except Exception as e:  # jinja2 raises UndefinedError, SecurityError, TypeError...
                problems.append(Problem(ds_str, n, "prompt", f"template failed on this row: {e}"))
                continue
        ds_src.lines[("row", n)] = n
        out.append((ds_src, ("row", n), case, f"{ds_str}:{n}"))
    return out


_PLAIN_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class _PlainTemplate:
    """A prompt made only of text and `{{ column }}` (the common dataset case), rendered without
    jinja2's per-call context set-up: the same output for str, int, float and bool cells, several times
    faster on 100k rows. A missing column or another cell type is left to jinja2 (same error, same text).
    The output has the same size bound as jinja2's (a column repeated many times adds up)."""

    def __init__(self, source: str):
        self.source = source
        parts = _PLAIN_VAR.split(source)  # text, name, text, name, ...
        self._texts, self._names = parts[0::2], parts[1::2]
        self._text_len = sum(map(len, self._texts))

    @functools.cached_property
    def jinja(self):
        return _jinja().from_string(self.source)

    def render_row(self, budget: RenderBudget, row: dict[str, Any]) -> str:
        texts = self._texts
        out = [texts[0]]
        n = self._text_len
        for name, text in zip(self._names, texts[1:]):
            v = row.get(name, _MISSING)
            if type(v) is not str:
                if type(v) not in (int, float, bool):
                    return budget.render(self.jinja, row)
                v = str(v)
            n += len(v)
            out.append(v)
            out.append(text)
        if n > MAX_RENDER_CHARS:
            raise RenderLimit(f"template output over {MAX_RENDER_CHARS} characters")
        return "".join(out)


_MISSING = object()


def _fast_template(source: str) -> _PlainTemplate | None:
    rest = _PLAIN_VAR.sub("", source)
    if "{{" in rest or "{%" in rest or "{#" in rest or "}}" in rest:
        return None
    return _PlainTemplate(source)


def _coerce(key: str, val: Any) -> Any:
    """Dataset cells are often strings: turn them into the case key's type where unambiguous."""
    if val is None:
        return None
    if key == "id":
        return str(val)
    if key in ("context", "messages", "tool_calls", "tags", "params", "metadata", "tools", "tool_choice",
               "expected_tool_calls", "tool_results") and isinstance(val, str):
        s = val.strip()
        if s[:1] in "[{":
            try:
                return json.loads(s)
            except json.JSONDecodeError:
                pass
        if key == "context":
            return [val]
        if key == "tags":
            return [t.strip() for t in val.split(",") if t.strip()]
    if hasattr(val, "tolist"):
        return val.tolist()
    return val
