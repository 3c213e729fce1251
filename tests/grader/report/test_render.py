"""The renderer entry point: every format it names renders, and anything else is an error, not text."""

import pytest

from grader.errors import GraderError
from grader.report.render import FORMATS, render


def test_unknown_format_is_an_error_naming_the_choices(fixed_report):
    with pytest.raises(GraderError, match=r"unknown report format 'html': choose one of text, json, junit, gradescope"):
        render(fixed_report, "html")


def test_every_listed_format_renders(fixed_report):
    texts = {fmt: render(fixed_report, fmt) for fmt in FORMATS}
    assert len(set(texts.values())) == len(FORMATS)  # none falls back to another


def test_hidden_visibility_reaches_gradescope(fixed_report):
    assert '"visibility": "hidden"' in render(fixed_report, "gradescope", hidden_visibility="hidden")
