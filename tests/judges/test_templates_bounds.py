"""A judge template named by a suite (`template: mine.j2`) comes from a pull request: it renders with the
same bounds as a dataset prompt. The text under evaluation is a variable, never template source."""

import time

import pytest

from evalharness.judges.templates import render
from evalharness.suite.render import RenderLimit


@pytest.mark.parametrize("source, message", [
    ("{{ 'x' * 300000000 }}", "template builds a value over 1048576 characters"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{{ output }}", "template took over 1 s"),
    ("{% for i in range(10000) %}{{ output }}{% endfor %}", "template output over 1048576 characters"),
])
def test_user_judge_template_is_bounded(tmp_path, source, message):
    t = tmp_path / "mine.j2"
    t.write_text(source)
    start = time.monotonic()
    with pytest.raises(RenderLimit, match=message):
        render(str(t), output="x" * 1000)
    assert time.monotonic() - start < 5


def test_answer_text_is_rendered_as_data_not_as_a_template():
    bomb = "{{ 'x' * 300000000 }}{% for i in range(10000) %}{% endfor %}"
    p = render("rubric.j2", criteria="Be right.", lo=1, hi=5, input="Q?", output=bomb, expected=None, context=None)
    assert bomb in p
