"""The dashboard's SVG charts: bar heights follow an independently computed histogram; labels are escaped."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from grader.report.summary import summarize
from grader.service.web.charts import histogram_svg, split_bar_svg
from tests.grader.service.sample import make_report

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bar_heights_follow_numpy_histogram_of_the_scores(seed):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 100, size=57)
    scores[:5] = 100.0  # full marks land in the last, closed bin
    scores[5:8] = 0.0
    summary = summarize([make_report(f"s{i}", total=float(s)) for i, s in enumerate(scores)])
    expected, _ = np.histogram(scores, bins=10, range=(0, summary.score.max_score))

    rects = bars(histogram_svg(summary.score.histogram, max_score=summary.score.max_score, title="Total"))

    assert [int(r.get("data-count")) for r in rects] == expected.tolist()
    heights = np.array([float(r.get("height")) for r in rects])
    tallest = heights.max()
    assert tallest > 0
    np.testing.assert_allclose(heights / tallest, expected / expected.max(), atol=1e-3)
    # bars stand on one baseline
    bottoms = {round(float(r.get("y")) + float(r.get("height")), 1) for r in rects}
    assert len(bottoms) == 1


@pytest.mark.parametrize("caption", [True, False])
def test_literal_counts_give_literal_heights_and_the_tallest_spans_the_axis(caption):
    svg = histogram_svg([0, 1, 2, 4], max_score=8, title="t", height=200, caption=caption)
    y_axis = [ln for ln in ET.fromstring(svg).iter(f"{SVG}line") if ln.get("x1") == ln.get("x2")]
    assert len(y_axis) == 1
    plot = float(y_axis[0].get("y2")) - float(y_axis[0].get("y1"))
    assert plot > 100
    assert [float(r.get("height")) for r in bars(svg)] == pytest.approx([0, plot / 4, plot / 2, plot], abs=0.01)
    assert all(float(r.get("y")) >= float(y_axis[0].get("y1")) for r in bars(svg))  # inside the plot


def test_empty_histogram_has_flat_bars_and_says_so():
    svg = histogram_svg([0] * 10, max_score=100, title="t")
    assert all(float(r.get("height")) == 0 for r in bars(svg))
    assert "no students yet" in svg


def test_title_is_escaped_and_svg_still_parses():
    svg = histogram_svg([1, 2], max_score=10, title='<script>alert(1)</script> & "x"')
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == '<script>alert(1)</script> & "x"'


def test_tooltips_name_each_bin_and_the_last_is_closed():
    rects = bars(histogram_svg([3, 0, 1, 2], max_score=20, title="t"))
    tips = [r.find(f"{SVG}title").text for r in rects]
    assert tips == ["3 students in [0, 5)", "0 students in [5, 10)", "1 students in [10, 15)", "2 students in [15, 20]"]


def test_split_bar_widths_are_shares_of_the_total():
    root = ET.fromstring(split_bar_svg(3, 1, 0, title="conv.dx", width=200))
    widths = {r.get("class"): float(r.get("width")) for r in root.iter(f"{SVG}rect")}
    assert widths == {"seg full": 150.0, "seg partial": 50.0, "seg zero": 0.0}
