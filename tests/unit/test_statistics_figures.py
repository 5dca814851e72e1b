"""The figure registry, tables and chart geometry: pure, without an app."""
import pytest

from blueprints.statistics import charts
from blueprints.statistics.figures import Column, Figure, pivot, register, table, unregister, get


def _query(_user, _selection):
    return []


def stacked(**extra) -> Figure:
    return Figure(key="t", title="测试", query=_query, chart="stacked",
                  columns=(Column("branch", "营业部"), Column("kind", "类别"), Column("count", "数量", "int")),
                  category="branch", series="kind", value="count", **extra)


ROWS = [{"branch": "甲", "kind": "现场", "count": 2}, {"branch": "甲", "kind": "见证", "count": 1},
        {"branch": "乙", "kind": "现场", "count": 0}, {"branch": "乙", "kind": "见证", "count": 5}]


def test_table_pivots_to_a_column_per_series_with_totals():
    result = table(stacked(), ROWS)
    assert result.headers == ["营业部", "现场", "见证", "合计"]
    assert result.rows == [["甲", 2, 1, 3], ["乙", 0, 5, 5]]
    assert result.totals == ["合计", 2, 6, 8]


def test_rates_are_not_summed_without_a_total_rule():
    figure = Figure(key="r", title="通过率", query=_query, chart="bar",
                    columns=(Column("branch", "营业部"), Column("rate", "通过率", "percent")), category="branch", value="rate")
    assert table(figure, [{"branch": "甲", "rate": 0.5}]).totals is None


@pytest.mark.parametrize("kwargs, message", [
    ({"chart": "pie"}, "chart 'pie'"),
    ({"series": None}, "needs a series column"),
    ({"value": "missing"}, "'missing' is not one of its columns"),
])
def test_a_figure_that_cannot_be_drawn_is_refused(kwargs, message):
    base = dict(key="t", title="测试", query=_query, chart="stacked",
                columns=(Column("branch", "营业部"), Column("kind", "类别"), Column("count", "数量", "int")),
                category="branch", series="kind", value="count")
    with pytest.raises(ValueError, match=message):
        Figure(**{**base, **kwargs})


def test_register_refuses_a_second_figure_under_the_same_key():
    register(stacked())
    try:
        assert get("t") is not None
        with pytest.raises(ValueError):
            register(stacked(order=5))
    finally:
        unregister("t")


def test_stacked_bars_one_mark_per_point_stacked_in_order():
    chart = charts.build(stacked(), pivot(stacked(), ROWS))
    assert [(m.category, m.series, m.value) for m in chart.marks] == [
        ("甲", "现场", 2), ("甲", "见证", 1), ("乙", "现场", 0), ("乙", "见证", 5)]
    first, second = chart.marks[0], chart.marks[1]
    assert second.y + second.height == pytest.approx(first.y, abs=0.11)  # the second segment sits on the first
    assert [label.text for label in chart.value_labels] == ["3", "5"]  # totals on top
    assert chart.legend[0][0] == "现场" and chart.legend[0][1] != chart.legend[1][1]
    tallest = chart.marks[3]
    assert tallest.y == pytest.approx(chart.plot_top, abs=0.11)  # 5 is the axis maximum


def test_line_chart_shows_every_nth_day_without_overlap():
    figure = Figure(key="l", title="每日", query=_query, chart="line",
                    columns=(Column("day", "日期"), Column("c", "渠道"), Column("n", "数量", "int")),
                    category="day", series="c", value="n")
    rows = [{"day": f"2026-11-{d:02d}", "c": c, "n": d} for d in range(1, 31) for c in ("现场", "见证")]
    chart = charts.build(figure, pivot(figure, rows))
    assert len(chart.marks) == 60 and len(chart.lines) == 2
    shown = chart.category_labels
    assert 2 <= len(shown) < 30
    assert all(b.x - a.x > charts._text_width("2026-11-01") for a, b in zip(shown, shown[1:]))


def test_long_branch_names_are_rotated_when_they_do_not_fit():
    rows = [{"branch": f"测试第{i}营业部很长的名字", "kind": "现场", "count": i} for i in range(12)]
    chart = charts.build(stacked(), pivot(stacked(), rows))
    assert all(label.rotate for label in chart.category_labels)
    assert chart.height > charts.HEIGHT


@pytest.mark.parametrize("value, expected", [(0, (1, 1)), (3, (3, 1)), (7, (8, 2)), (49, (50, 10)), (1234, (1500, 500))])
def test_axis_maximum_is_a_round_number(value, expected):
    assert charts.nice_ceiling(value) == expected


def test_percent_and_counts_read_as_on_the_table():
    assert charts.format_value(0.4, "percent") == "40.0%"
    assert charts.format_value(12345, "int") == "12,345"
    assert charts.format_value(None, "percent") == "—"
