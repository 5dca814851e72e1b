"""The registry of the dashboard's figures, and how a figure's rows become its table.

A figure is a key, a title, a query (user, selection) -> rows, a chart kind and its columns.
Other packages add theirs with `register(Figure(...))` when the app starts (import their
module in `_register_models`' neighbour, `builtin.load()`); the dashboard shows every
registered figure in `order`. No Flask and no database here: rows are plain dicts.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

CHART_KINDS = ("bar", "stacked", "line")
COLUMN_KINDS = ("text", "int", "percent")


@dataclass(frozen=True)
class Column:
    """One column of a figure's rows: its key in the row dict, its Chinese title, how numbers show."""

    key: str
    title: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"column {self.key}: kind {self.kind!r} is not one of {COLUMN_KINDS}")


@dataclass(frozen=True)
class Selection:
    """What the dashboard was asked for: a period of Beijing calendar days (both ends included), a branch.

    `branch_id` is HQ's filter (None: all branches); a branch's own staff always get their branch.
    """

    start: date
    end: date
    branch_id: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Figure:
    """One figure of the dashboard.

    `query(user, selection)` returns rows (dicts keyed by the columns' keys). The chart draws
    `value` over `category`; with `series` each category is split by that column (stacked bars,
    or one line per series), and the table is the rows pivoted to one column per series.
    `period` False: a snapshot of now (the period does not apply); the page says so.
    """

    key: str
    title: str
    query: Callable
    chart: str
    columns: tuple[Column, ...]
    category: str
    value: str
    series: str | None = None
    unit: str = ""
    note: str = ""
    period: bool = True
    order: int = 100
    # For figures whose columns cannot simply be added up (rates): rows -> the totals row, or None.
    total: Callable | None = None

    def __post_init__(self):
        if self.chart not in CHART_KINDS:
            raise ValueError(f"figure {self.key}: chart {self.chart!r} is not one of {CHART_KINDS}")
        keys = {column.key for column in self.columns}
        for name in (self.category, self.value, self.series):
            if name is not None and name not in keys:
                raise ValueError(f"figure {self.key}: {name!r} is not one of its columns")
        if self.chart in ("stacked", "line") and self.series is None:
            raise ValueError(f"figure {self.key}: a {self.chart} chart needs a series column")

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


_REGISTRY: dict[str, Figure] = {}


def register(figure: Figure) -> Figure:
    """Add a figure to the dashboard; a key is registered once."""
    if figure.key in _REGISTRY and _REGISTRY[figure.key] != figure:
        raise ValueError(f"a figure {figure.key!r} is already registered")
    _REGISTRY[figure.key] = figure
    return figure


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def all_figures() -> list[Figure]:
    return sorted(_REGISTRY.values(), key=lambda figure: (figure.order, figure.key))


def get(key: str) -> Figure | None:
    return _REGISTRY.get(key)


@dataclass(frozen=True)
class Table:
    """A figure's numbers as shown next to its chart and written to its sheet.

    `kinds` says per column how to show it; `totals` is the last line (None when a total
    means nothing, e.g. for rates).
    """

    headers: list[str]
    kinds: list[str]
    rows: list[list]
    totals: list | None = None


@dataclass
class Pivot:
    """Rows pivoted for charting: categories in order, series in order, value per (category, series)."""

    categories: list[str]
    series: list[str]
    values: dict[tuple[str, str], float] = field(default_factory=dict)

    def value(self, category: str, series: str) -> float:
        return self.values.get((category, series), 0)


def pivot(figure: Figure, rows: list[dict]) -> Pivot:
    """Categories and series in the order the rows name them first; one series "" without a series column."""
    categories: list[str] = []
    series: list[str] = []
    values: dict[tuple[str, str], float] = {}
    for row in rows:
        category = str(row[figure.category])
        name = str(row[figure.series]) if figure.series else ""
        if category not in categories:
            categories.append(category)
        if name not in series:
            series.append(name)
        values[(category, name)] = values.get((category, name), 0) + (row[figure.value] or 0)
    return Pivot(categories, series, values)


def table(figure: Figure, rows: list[dict]) -> Table:
    """The figure's table: pivoted (a column per series, and a total) or its rows as they are."""
    if figure.series:
        data = pivot(figure, rows)
        body = [[category] + [data.value(category, name) for name in data.series]
                + [sum(data.value(category, name) for name in data.series)] for category in data.categories]
        totals = ["合计"] + [sum(line[i] for line in body) for i in range(1, len(data.series) + 2)]
        return Table([figure.column(figure.category).title, *data.series, "合计"],
                     ["text"] + ["int"] * (len(data.series) + 1), body, totals)
    body = [[row[column.key] for column in figure.columns] for row in rows]
    if figure.total is not None:
        line = figure.total(rows) if rows else None
        totals = [line[column.key] for column in figure.columns] if line else None
        return Table([column.title for column in figure.columns], [column.kind for column in figure.columns], body, totals)
    summable = all(column.kind != "percent" for column in figure.columns[1:])
    totals = None
    if summable and figure.columns[0].kind == "text" and body:
        totals = ["合计"] + [sum(line[i] or 0 for line in body) for i in range(1, len(figure.columns))]
    return Table([column.title for column in figure.columns], [column.kind for column in figure.columns], body, totals)
