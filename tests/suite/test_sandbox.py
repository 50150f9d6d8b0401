"""The bounded jinja2 sandbox: each way a template can ask for unbounded time or memory ends in RenderLimit,
quickly and small; ordinary templates render exactly as in jinja2's own sandbox."""

import time
import tracemalloc

import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from evalharness.suite.render import RenderBudget, RenderLimit, render
from evalharness.suite.sandbox import MAX_TEMPLATE_CHARS, BoundedEnvironment

ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, extensions=["jinja2.ext.do"])
ROW = {"q": "hello", "doc": "line\twith tab\n" * 50_000, "n": 3, "items": [{"k": "v"}] * 10, "big": 8_000_000_000}
BIG = "{% set s = 'x' * 1000000 %}"

VALUE = "template builds a value over 1048576 characters"
TIME = "template took over 1 s"
WORK = "template builds over 33554432 characters in all"

HOSTILE = [
    ("{{ 'x' * 300000000 }}", VALUE),
    ("{{ [0] * 300000000 }}", VALUE),
    ("{% for i in range(100000) %}{% endfor %}", "range() over 10000 items"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", TIME),
    ("{% set s = 'ab' * 500000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}", TIME),
    ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}", TIME),
    ("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", "template output over 1048576 characters"),
    ("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", VALUE),
    ("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", VALUE),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% do ns.l.extend(ns.l) %}{% endfor %}", VALUE),
    ("{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
     "template builds a number over 16384 bits"),
    ("{{ 'x'|center(1000000000) }}", VALUE),
    ("{{ 'x'.ljust(1000000000) }}", VALUE),
    ("{{ doc.replace('', doc) }}", VALUE),
    ("{{ doc|replace('', 12345678901234567890) }}", VALUE),
    ("{{ doc|indent(1000000) }}", VALUE),
    ("{{ doc.expandtabs(1000000) }}", VALUE),
    ("{{ doc|wordwrap(1, wrapstring=doc) }}", VALUE),
    ("{{ ('{0:>999999}' * 1000).format('x') }}", VALUE),
    ("{{ '{:{}}'.format('x', 1000000000) }}", VALUE),
    ("{{ '%*s' % (1000000000, 'x') }}", VALUE),
    ("{{ '%(a)s%(a)s%(a)s' % {'a': doc} }}", VALUE),
    (BIG + "{{ range(10000)|list|tojson(indent=1000000) }}", VALUE),
    (BIG + "{{ s.translate({120: s}) }}", VALUE),
    (BIG + "{{ [s, s, s, s] }}", VALUE),
    (BIG + "{{ range(10000)|batch(1000000000, s)|list }}", VALUE),
    (BIG + "{% macro m() %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endmacro %}{{ m() }}", VALUE),
    (BIG + "{% set b %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endset %}", VALUE),
    (BIG + "{% filter upper %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endfilter %}", VALUE),
    (BIG + "{% set ns = namespace(l=[]) %}{% for i in range(100) %}{% do ns.l.append(s) %}{% endfor %}{{ ns.l|join }}",
     VALUE),
    (BIG + "{{ s|map('center', 1000000)|list|length }}", WORK),
]


@pytest.mark.parametrize("source, message", HOSTILE)
def test_hostile_template_ends_quickly_and_small(source, message):
    template = ENV.from_string(source)
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(RenderLimit, match=message.replace("(", r"\(").replace(")", r"\)")):
            render(template, ROW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5
    assert peak < 200 * 1024 * 1024, f"{peak / 2**20:.0f} MB"


ORDINARY = [
    "Question: {{ q|upper }} ({{ n + 1 }}){% for i in items %} {{ loop.index }}/{{ loop.length }}={{ i.k }}{% endfor %}",
    "{{ '%d users' % big }} {{ '{:,}'.format(big) }} {{ doc|truncate(40) }} {{ doc|length }}",
    "{{ doc|replace('tab', 'TAB')|length }} {{ doc|indent(2)|length }} {{ q.center(21, '*') }} {{ q * 3 }}",
    "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(q) }}{% set ns = namespace(s='') %}"
    "{% for i in range(50) %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}",
    "{{ items|map(attribute='k')|join(', ') }} {{ items[:2]|tojson }} {{ range(5)|list }} {{ [1, 2] + [3] }} {{ 2 ** 100 }}",
    "{% set b %}{{ q }}!{% endset %}{{ b }} {% filter upper %}{{ q }}{% endfilter %} {{ q ~ n ~ '.' }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_template_renders_as_in_jinja2s_sandbox(source):
    plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, extensions=["jinja2.ext.do"])
    assert render(ENV.from_string(source), ROW) == plain.from_string(source).render(**ROW)


def test_lorem_ipsum_is_gone_and_long_sources_are_refused():
    with pytest.raises(UndefinedError, match="lipsum"):
        render(ENV.from_string("{{ lipsum(1000000) }}"), {})
    with pytest.raises(RenderLimit, match=f"template over {MAX_TEMPLATE_CHARS} characters"):
        ENV.from_string("x" * (MAX_TEMPLATE_CHARS + 1))


def test_suite_budget_bounds_many_renders_together():
    budget = RenderBudget(0.3)
    assert budget.render(ENV.from_string("{{ q }}"), ROW) == "hello"
    endless = ENV.from_string("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    start = time.monotonic()
    with pytest.raises(RenderLimit, match=r"templates took over 0.3 s in all"):
        budget.render(endless, ROW)
    assert time.monotonic() - start < 1
    with pytest.raises(RenderLimit, match=r"templates took over 0.3 s in all"):
        budget.render(endless, ROW)
