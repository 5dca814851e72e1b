"""The geometry of the dashboard's charts (bar, stacked bar, line); templates/statistics/_chart.html draws it as SVG.

Pure: a Pivot in, positions and labels out, so the chart is the same on every screen and
can be tested without a browser. Coordinates are in the SVG's viewBox; the SVG scales to
its card's width.
"""
import math
from dataclasses import dataclass, field

from blueprints.statistics.figures import Figure, Pivot

WIDTH = 640
HEIGHT = 300
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 24
MARGIN_BOTTOM = 36
FONT_SIZE = 12
# A rotated category label needs this much more room below the plot.
ROTATED_EXTRA = 56
# Colours told apart in print and by most colour-blind readers (Okabe–Ito, darkened for white text contrast).
PALETTE = ("#0b5cad", "#d55e00", "#1b6e3a", "#8b1b1b", "#6a3d9a", "#b8860b", "#2b8c9e", "#61707f")


@dataclass(frozen=True)
class Mark:
    """One data point: a bar (segment) or a line's dot, with the words for its tooltip."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    category: str
    series: str
    value: float
    text: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    rotate: bool = False


@dataclass
class Chart:
    kind: str
    title: str
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_right: float
    plot_bottom: float
    marks: list[Mark] = field(default_factory=list)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (series, colour, "x,y x,y …")
    category_labels: list[Label] = field(default_factory=list)
    value_labels: list[Label] = field(default_factory=list)
    ticks: list[Label] = field(default_factory=list)  # y labels; y is the gridline
    legend: list[tuple[str, str]] = field(default_factory=list)  # (series, colour)
    empty: bool = False


def nice_ceiling(value: float) -> tuple[float, float]:
    """An axis maximum at or above `value` and its tick step (1, 2 or 5 times a power of ten, at least 1): at most 5 steps."""
    if value <= 0:
        return 1, 1
    exponent = max(0, math.floor(math.log10(value / 5))) if value > 5 else 0
    for power in (exponent, exponent + 1):
        for base in (1, 2, 5):
            step = base * 10 ** power
            if math.ceil(value / step) <= 5:
                return math.ceil(value / step) * step, step
    raise AssertionError("unreachable: 10^(k+1) covers value in five steps")


def format_value(value: float, kind: str) -> str:
    """How a number reads on the chart and in the table: 1,234 or 87.5%."""
    if kind == "percent":
        return "—" if value is None else f"{value * 100:.1f}%"
    if value is None:
        return "—"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _text_width(text: str) -> float:
    # CJK characters are about one em wide, Latin digits and letters about 0.6 em.
    return sum(FONT_SIZE if ord(ch) > 0x2E7F else FONT_SIZE * 0.6 for ch in text)


def build(figure: Figure, data: Pivot) -> Chart:
    """Place every data point of `data` for the figure's chart kind."""
    value_kind = figure.column(figure.value).kind
    categories, series = data.categories, data.series
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_w / max(len(categories), 1)
    # Category labels: all of them while they fit; for long runs (days) every n-th, never overlapping.
    longest = max((_text_width(c) for c in categories), default=0)
    rotate = figure.chart != "line" and longest > slot * 0.95
    every = 1
    if figure.chart == "line" and categories:
        every = max(1, math.ceil((longest + 8) / slot))
    bottom = MARGIN_BOTTOM + (ROTATED_EXTRA if rotate else 0)
    legend_rows = math.ceil(len(series) / 4) if figure.series else 0
    top = MARGIN_TOP + legend_rows * 20
    height = HEIGHT + (ROTATED_EXTRA if rotate else 0) + legend_rows * 20
    chart = Chart(figure.chart, figure.title, WIDTH, height, MARGIN_LEFT, top, WIDTH - MARGIN_RIGHT, height - bottom)
    chart.legend = [(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series)] if figure.series else []
    if figure.chart == "stacked":
        peak = max((sum(data.value(c, s) for s in series) for c in categories), default=0)
    else:
        peak = max((data.value(c, s) for c in categories for s in series), default=0)
    chart.empty = not categories
    if value_kind == "percent":
        axis_max, step = 1.0, 0.2
    else:
        axis_max, step = nice_ceiling(peak)
    plot_h = chart.plot_bottom - chart.plot_top

    def y_of(value: float) -> float:
        return chart.plot_bottom - (value / axis_max) * plot_h if axis_max else chart.plot_bottom

    ticks = round(axis_max / step)
    chart.ticks = [Label(MARGIN_LEFT - 6, y_of(i * step), format_value(i * step, value_kind)) for i in range(ticks + 1)]
    for index, category in enumerate(categories):
        centre = MARGIN_LEFT + slot * (index + 0.5)
        if index % every == 0:
            chart.category_labels.append(Label(centre, chart.plot_bottom + 16, category, rotate))
    if figure.chart == "line":
        _line(chart, figure, data, slot, y_of, value_kind)
    else:
        _bars(chart, figure, data, slot, y_of, value_kind)
    return chart


def _tooltip(category: str, series: str, value: float, kind: str, unit: str) -> str:
    where = f"{category} · {series}" if series else category
    return f"{where}：{format_value(value, kind)}{'' if kind == 'percent' else unit}"


def _bars(chart: Chart, figure: Figure, data: Pivot, slot: float, y_of, kind: str) -> None:
    stacked = figure.chart == "stacked"
    groups = 1 if stacked else max(len(data.series), 1)
    bar_w = min(slot * 0.7 / groups, 48)
    for index, category in enumerate(data.categories):
        left = MARGIN_LEFT + slot * index + (slot - bar_w * groups) / 2
        base = 0.0
        for s_index, name in enumerate(data.series):
            value = data.value(category, name)
            colour = PALETTE[s_index % len(PALETTE)]
            if stacked:
                y_top, y_bottom, x = y_of(base + value), y_of(base), left
                base += value
            else:
                y_top, y_bottom, x = y_of(value), y_of(0), left + bar_w * s_index
            chart.marks.append(Mark(round(x, 1), round(y_top, 1), round(bar_w, 1), round(y_bottom - y_top, 1), colour,
                                    category, name, value, _tooltip(category, name, value, kind, figure.unit)))
            if not stacked:
                chart.value_labels.append(Label(round(x + bar_w / 2, 1), round(y_top - 4, 1), format_value(value, kind)))
        if stacked:
            chart.value_labels.append(Label(round(left + bar_w / 2, 1), round(y_of(base) - 4, 1), format_value(base, kind)))


def _line(chart: Chart, figure: Figure, data: Pivot, slot: float, y_of, kind: str) -> None:
    for s_index, name in enumerate(data.series):
        colour = PALETTE[s_index % len(PALETTE)]
        points = []
        for index, category in enumerate(data.categories):
            value = data.value(category, name)
            x, y = round(MARGIN_LEFT + slot * (index + 0.5), 1), round(y_of(value), 1)
            points.append(f"{x},{y}")
            chart.marks.append(Mark(x, y, 0, 0, colour, category, name, value,
                                    _tooltip(category, name, value, kind, figure.unit)))
        chart.lines.append((name, colour, " ".join(points)))
