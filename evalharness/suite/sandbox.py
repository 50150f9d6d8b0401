"""The jinja2 sandbox for untrusted templates, with bounds on time and size (see evalharness.suite.render).

jinja2's sandbox stops a template from reaching Python internals, but not from asking for a huge value
(`{{ 'x' * 300000000 }}`) or an endless loop (nested `range`s). `BoundedEnvironment` adds, per render:

- the render's deadline, checked on every loop item, call, filter and intercepted operator;
- a size bound on every value the template builds: operations that can multiply a size (`*`, `**`, `%`,
  `~`, `+`, `replace`, `join`, `center`, `indent`, `format`, ...) are refused from an estimate made
  *before* they allocate; everything else is measured after;
- a bound on all the characters a render builds, so many values built and kept cannot add up.
"""

from __future__ import annotations

import re
from functools import wraps
from typing import Any, Callable, Iterable, Iterator

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from evalharness.suite.render import MAX_RENDER_CHARS, RenderLimit, active, check_deadline, size

# All the characters one render builds, kept or not (a `map` over a long string builds one value per
# character). 32 times the output: room for several passes of filters over a full-size input, while the
# memory it can pin stays under ~130 MB even for 4-byte characters.
MAX_RENDER_WORK = 32 * MAX_RENDER_CHARS
# Items from `range()`. jinja2's sandbox allows 100,000; a prompt never needs more than a few hundred, and
# the smaller bound keeps `range(n)|list` and friends small (nested loops are ended by the deadline).
MAX_RANGE = 10_000
# Integers built with `*` and `**`. Python refuses to print an integer over 4,300 digits (~14,300 bits),
# so a bigger one can only be a way to spend CPU (`10 ** 10 ** 8`).
MAX_INT_BITS = 1 << 14
# Length of a template's source: the largest prompt template in the shipped suites is under 1,000
# characters; compiling a multi-megabyte one would take seconds before any render limit applies.
MAX_TEMPLATE_CHARS = 100_000


def _refuse_value(estimate: int) -> None:
    if estimate > MAX_RENDER_CHARS:
        raise RenderLimit(f"template builds a value over {MAX_RENDER_CHARS} characters")


def _built(value: Any) -> Any:
    """Measure a value the template just built, and charge it to the render's work."""
    n = size(value)
    _refuse_value(n)
    limits = active()
    if limits is not None:
        limits.work += n
        if limits.work > MAX_RENDER_WORK:
            raise RenderLimit(f"template builds over {MAX_RENDER_WORK} characters in all")
    return value


# ---- estimates, made before an operation that can multiply a size ----

_NUMBER = re.compile(r"\d+")
# A %-conversion's flags, width and precision (`*` takes one from the arguments); the mapping key is left out.
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?([-#0 +*\d.]*)")
# A str.format field, with its nested fields (`{:{width}}` takes the width from the arguments).
_FORMAT_FIELD = re.compile(r"\{(?:[^{}]|\{[^{}]*\})*\}")


def _format_estimate(fmt: str | bytes, args: Iterable[Any], percent: bool) -> int:
    """Upper bound for `fmt % args` / `fmt.format(*args)`: the text, and for each field the largest argument
    (a field may repeat one: '{0}{0}{0}'), the numbers written in it, and the largest integer argument when
    it takes its width from the arguments."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    args = list(args)
    largest = max((size(a) for a in args), default=0)
    largest_int = max((abs(a) for a in args if isinstance(a, int)), default=0)
    estimate = len(text)
    for field in (_PERCENT_FIELD if percent else _FORMAT_FIELD).findall(text):
        written = sum(int(n) if len(n) <= 7 else MAX_RENDER_CHARS + 1 for n in _NUMBER.findall(field))
        dynamic = "*" in field if percent else field.count("{") > 1
        estimate += largest + written + (largest_int if dynamic else 0)
    return estimate


def _percent_args(right: Any) -> list[Any]:
    if isinstance(right, dict):
        return list(right.values())
    return list(right) if isinstance(right, tuple) else [right]


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    """A call's argument by position or by name."""
    return args[index] if len(args) > index else kwargs.get(name, default)


def _replace_estimate(s: str | bytes, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, (str, bytes)) or type(old) is not type(s) or type(new) is not type(s):
        return size(s)  # the call itself will refuse the types
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * len(new)


def _join_estimate(sep: Any, items: list[Any]) -> int:
    return size(items) + size(sep) * len(items)


def _width(w: Any) -> int:
    return w if isinstance(w, int) else size(w)


def _str_method_estimate(name: str, s: str | bytes, args: tuple, kwargs: dict) -> int:
    """Estimate for the str/bytes methods that can return much more than they are given (the others
    return at most a small multiple of `s`, which the measurement afterwards bounds)."""
    if name == "replace":
        return _replace_estimate(s, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"),
                                 _arg(args, kwargs, 2, "count", -1))
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(s), _width(_arg(args, kwargs, 0, "width", 0)))
    if name == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        return len(s) + s.count("\t" if isinstance(s, str) else b"\t") * _width(tabsize)
    if name == "translate":
        table = _arg(args, kwargs, 0, "table")
        longest = max((size(v) for v in table.values()), default=0) if isinstance(table, dict) else size(table)
        return len(s) * (1 + longest)
    if name == "format":
        return _format_estimate(s, list(args) + list(kwargs.values()), percent=False)
    if name == "format_map":
        mapping = _arg(args, kwargs, 0, "mapping")
        return _format_estimate(s, list(mapping.values()) if isinstance(mapping, dict) else [mapping], percent=False)
    return len(s)


def _filter_estimate(name: str, value: Any, args: tuple, kwargs: dict) -> int:
    """Estimate for a builtin filter; the default (the size of what it is given) covers the filters whose
    output is at most a small multiple of their input, which the measurement afterwards bounds."""
    s = value if isinstance(value, str) else ""
    if name == "replace":  # the filter str()s all three
        return _replace_estimate(str(value), str(_arg(args, kwargs, 0, "old", "")), str(_arg(args, kwargs, 1, "new", "")),
                                 _arg(args, kwargs, 2, "count"))
    if name == "center":
        return max(size(value), _width(_arg(args, kwargs, 0, "width", 80)))
    if name == "indent":
        return len(s) + (s.count("\n") + 1) * _width(_arg(args, kwargs, 0, "width", 4))
    if name == "wordwrap":
        return len(s) * (1 + size(_arg(args, kwargs, 2, "wrapstring") or "\n"))
    if name == "urlize":  # `target` and `rel` are added to every link
        return len(s) * (1 + size(_arg(args, kwargs, 2, "target") or "") + size(_arg(args, kwargs, 3, "rel") or ""))
    if name == "tojson":
        return size(value) * (2 + _width(_arg(args, kwargs, 0, "indent") or 0))
    if name in ("batch", "slice"):  # the count of items or slices, padded with fill_with
        return size(value) + _width(_arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 0))
    if name == "format" and isinstance(value, str):
        return _format_estimate(value, list(args) + list(kwargs.values()), percent=True)
    return size(value) + (size(args) if args else 0) + (size(kwargs) if kwargs else 0)


def _binop_estimate(op: str, left: Any, right: Any) -> int:
    if op == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
                return size(seq) * max(n, 0)
    if op == "%" and isinstance(left, (str, bytes)):
        return _format_estimate(left, _percent_args(right), percent=True)
    if op == "+":
        return size(left) + size(right)
    return 0


def _check_int_op(op: str, left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if op == "*":
        bits = left.bit_length() + right.bit_length()
    elif op == "**":
        bits = left.bit_length() * right if right > 0 and abs(left) > 1 else 0
    else:
        return
    if bits > MAX_INT_BITS:
        raise RenderLimit(f"template builds a number over {MAX_INT_BITS} bits")


# ---- the environment ----

_ITER = "bounded-iter"  # names a template cannot spell (a filter name is an identifier), used by _Bound
_CONCAT = "bounded-concat"


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        check_deadline()
        yield item


def _bounded_concat(parts: list[Any]) -> str:
    _refuse_value(size(parts))
    return _built("".join(map(str, parts)))


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise RenderLimit(f"range() over {MAX_RANGE} items")
    return rng


def _guard_filter(name: str, f: Callable) -> Callable:
    skip = 1 if getattr(f, "jinja_pass_arg", None) is not None else 0  # context/environment comes first

    @wraps(f)  # keeps `jinja_pass_arg`, which tells jinja2 what to pass
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_deadline()
        value, rest = args[skip], args[skip + 1:]
        if name == "join":  # measure the items once, then join the same list
            value = list(value)
            _refuse_value(_join_estimate(rest[0] if rest else kwargs.get("d", ""), value))
            args = args[:skip] + (value,) + rest
        else:
            _refuse_value(_filter_estimate(name, value, rest, kwargs))
        return _built(f(*args, **kwargs))

    return guarded


# Methods that grow a list, dict or set in place.
_GROWING = frozenset({"append", "extend", "insert", "update", "setdefault", "add"})


def _added(name: str, args: tuple, kwargs: dict) -> int:
    if name in ("extend", "update"):
        return sum(len(a) for a in args if hasattr(a, "__len__")) + len(kwargs)  # a generator is bounded by its source
    return 1


def _bounded_join(parts: Iterable[str]) -> str:
    """`environment.concat`: joins the output buffered by macros, `{% set %}` and `{% filter %}` blocks."""
    parts = list(parts)
    _refuse_value(sum(map(len, parts)))
    return _built("".join(parts))


_SCALARS = (str, int, float, bool)  # printed no longer than `size` says (numbers: their digits)


def _finalize(value: Any) -> Any:
    """Checks each `{{ }}` value before it is printed: a list that repeats a long string is small until
    printed."""
    if type(value) not in _SCALARS:
        _refuse_value(size(value))
    return value


class _Bound(NodeTransformer):
    """Route every `for` loop's items and every `~` through the bounded helpers."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _ITER, [], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, _CONCAT, [], [], None, None, lineno=node.lineno)


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox with the bounds of this module; render with `evalharness.suite.render.render()`, which
    sets the deadline and bounds the output."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **kwargs: Any):
        super().__init__(finalize=_finalize, **kwargs)
        self.globals.pop("lipsum")  # lorem ipsum of any length: no use in a prompt
        self.globals["range"] = _bounded_range
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[_ITER] = _bounded_iter
        self.filters[_CONCAT] = _bounded_concat
        self.concat = _bounded_join  # type: ignore[assignment]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        if len(source) > MAX_TEMPLATE_CHARS:
            raise RenderLimit(f"template over {MAX_TEMPLATE_CHARS} characters")
        return _Bound().visit(super()._parse(source, name, filename))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_deadline()
        _check_int_op(operator, left, right)
        _refuse_value(_binop_estimate(operator, left, right))
        return _built(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (jinja2's names)
        check_deadline()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        receiver = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(receiver, (str, bytes)):
            if name == "join" and args:  # measure the items once, then join the same list
                args = (list(args[0]),) + args[1:]
                _refuse_value(_join_estimate(receiver, args[0]))
            else:
                _refuse_value(_str_method_estimate(name, receiver, args, kwargs))
        elif isinstance(receiver, (list, dict, set)) and name in _GROWING:
            # The container's length after the call, at most; what it holds was measured when it was built.
            _refuse_value(len(receiver) + _added(name, args, kwargs))
        return _built(super().call(__context, __obj, *args, **kwargs))
