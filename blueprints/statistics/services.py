"""The dashboard: run the registered figures for a user and a selection, with their tables and charts."""
from dataclasses import dataclass

from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from blueprints.statistics import builtin  # noqa: F401  (registers the built-in figures)
from blueprints.statistics import crm  # noqa: F401  (registers the CRM figures)
from blueprints.statistics import charts, export
from blueprints.statistics.figures import Figure, Selection, Table, all_figures, pivot, table
from core.extensions import db


@dataclass
class Shown:
    """A figure as the dashboard shows it: its table and its chart."""

    figure: Figure
    table: Table
    chart: charts.Chart


def filter_branches(user: Staff) -> list[Branch]:
    """The branches HQ may narrow the dashboard to; none for a branch's own staff."""
    if not user.sees_all_branches:
        return []
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False)).order_by(Branch.code)))


def figures_for(selection: Selection) -> list[Figure]:
    return list(all_figures())


def show(figure: Figure, user: Staff, selection: Selection) -> Shown:
    rows = figure.query(user, selection)
    return Shown(figure, table(figure, rows), charts.build(figure, pivot(figure, rows)))


def dashboard(user: Staff, selection: Selection) -> list[Shown]:
    return [show(figure, user, selection) for figure in figures_for(selection)]


def scope_label(user: Staff, selection: Selection) -> str:
    if not user.sees_all_branches:
        return user.branch.name
    if selection.branch_id:
        return db.session.get(Branch, selection.branch_id).name
    return "全部营业部"


def workbook(user: Staff, selection: Selection, figures: list[Figure]) -> bytes:
    """The figures' tables as a workbook, headed by the period and the branches they cover."""
    heading = [("统计期", f"{selection.start} 至 {selection.end}（北京时间，含首尾）"),
               ("营业部", scope_label(user, selection)), ("导出人", f"{user.full_name}（{user.username}）")]
    return export.workbook([(figure, table(figure, figure.query(user, selection))) for figure in figures], heading)
