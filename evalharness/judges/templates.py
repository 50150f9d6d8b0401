"""Judge prompt templates: jinja2 files in the top-level `judges/` folder, rendered sandboxed.

`judges/` ships inside the package as `evalharness.judges.builtin` (pyproject.toml maps it at build time),
and is read only through importlib.resources, so a wheel works exactly like a checkout.
EVALHARNESS_JUDGES_DIR replaces it with a folder of your own.

Text under evaluation (the model's answer, the context) is untrusted. `untrusted()` wraps it in
markers carrying a keyed nonce its author cannot compute, after neutralising delimiter-like runs,
so the text cannot forge the closing marker. An answer that addresses its grader is failed before
any judge sees it (judges/manipulation.py); `redact_judge_instructions()` remains a second line.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.loaders import split_template_path

from evalharness.suite.render import render as bounded_render
from evalharness.suite.sandbox import BoundedEnvironment

_INJECTION = re.compile(
    r"(?i)("
    r"ignore\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|preceding)\s+(?:instructions|directions|prompts?|rules)"
    r"|disregard\s+(?:all\s+|the\s+)?(?:previous|prior|above)\s+\w+"
    r"|(?:as|you\s+are)\s+(?:the\s+|an?\s+)?(?:judge|grader|evaluator|assessor)\b[^.\n]*"
    r"|(?:give|assign|rate|score|grade|mark)\s+(?:this|it|me|the)(?:\s+(?:answer|response|output|one|reply))?\s+(?:an?\s+|with\s+an?\s+)?"
    r"(?:(?:score|rating|grade|mark)\s+of\s+)?(?:\d+(?:\s*/\s*\d+)?|full\s+marks|the\s+(?:highest|maximum|top)\s+\w+|perfect)"
    r"|\"?(?:score|rating|verdict|winner|supported|relevant)\"?\s*:\s*(?:\d+|\"?(?:yes|true|a|b)\"?)"
    r"|(?:new|updated|system)\s+instructions?\s*:"
    r"|<\s*/?\s*(?:system|instructions?|judge)\s*>"
    r")"
)


BUILTIN_PACKAGE = "evalharness.judges.builtin"  # the top-level judges/ folder, inside the wheel


def judges_dir() -> Traversable:
    """Where built-in template names are looked up: EVALHARNESS_JUDGES_DIR, else the packaged judges/."""
    env = os.environ.get("EVALHARNESS_JUDGES_DIR")
    return Path(env) if env else resources.files(BUILTIN_PACKAGE)


class _ResourceLoader(BaseLoader):
    """Templates from a folder given as an importlib.resources Traversable (a directory, or a folder inside
    a zip). `..` and absolute names are refused, as by FileSystemLoader; a file on disk is reloaded when it
    changes."""

    def __init__(self, root: Traversable):
        self.root = root

    def get_source(self, environment, template: str):
        node = self.root
        for piece in split_template_path(template):  # raises TemplateNotFound on `..`
            node = node / piece
        if not node.is_file():
            raise TemplateNotFound(template)
        text = node.read_text(encoding="utf-8")
        if not isinstance(node, Path):
            return text, None, lambda: True
        mtime = node.stat().st_mtime

        def uptodate() -> bool:
            try:
                return node.stat().st_mtime == mtime
            except OSError:
                return False

        return text, str(node), uptodate


_ENVS: dict[str, BoundedEnvironment] = {}


def _env(root: Traversable) -> BoundedEnvironment:
    env = _ENVS.get(str(root))
    if env is None:
        # A user's template comes with a suite, from a pull request: the same bounds as a dataset prompt.
        env = BoundedEnvironment(loader=_ResourceLoader(root), undefined=StrictUndefined, autoescape=False,
                                 keep_trailing_newline=True)
        env.filters["untrusted"] = untrusted
        _ENVS[str(root)] = env
    return env


def render(template: str, **variables) -> str:
    """Render `judges/<template>` (or a user's file path) in the bounded sandbox; missing variables raise,
    and so does a template over a bound (RenderLimit)."""
    path = Path(template)
    if path.is_absolute():  # a suite's own template: the loader resolved it inside the suite root
        return bounded_render(_own_env().from_string(path.read_text(encoding="utf-8")), variables)
    # A name is a built-in template, looked up in judges/ only: never in the current directory.
    return bounded_render(_env(judges_dir()).get_template(template), variables)


@lru_cache(maxsize=1)
def _own_env() -> BoundedEnvironment:
    """The environment of a suite's own template: no loader, so it cannot include, import or extend
    another file (which could be a symlink out of the suite root)."""
    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["untrusted"] = untrusted
    return env


def redact_judge_instructions(text: str) -> tuple[str, int]:
    """Remove instructions aimed at the judge. Returns (text, how many were removed)."""
    return _INJECTION.subn("[removed: instruction aimed at the judge]", text)


def untrusted(text: str | None, label: str = "DATA") -> str:
    """The text between markers whose nonce is a keyed hash the text's author cannot compute (or a fresh random
    one: EVALHARNESS_JUDGE_NONCE=random); delimiter-like runs inside the text (`<<`, `＞＞`, zero-width tricks)
    are neutralised. An answer that addresses its grader never gets here: the judge scorers fail it first
    (evalharness/judges/manipulation.py)."""
    from evalharness.judges.markers import neutralise, nonce

    text = text or ""
    clean = neutralise(text)  # the text cannot open or close a marker
    clean, _ = redact_judge_instructions(clean)
    n = nonce(text, label)
    return f"<<<{label} {n}>>>\n{clean}\n<<<END {label} {n}>>>"
