"""The figures built from the openings, customers, return visits, changes and closures: one GROUP BY each.

Each query keeps to the user's branch (HQ: every branch, or the one it filtered to) and
fills in the zeros, so every branch, day, channel or state in scope has its line.
Openings and return visits are counted by the home page's own queries (home.services).
"""
from datetime import datetime, timedelta

from flask import g, has_app_context
from sqlalchemy import Date, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Branch, Staff
from blueprints.changes.models import CustomerChange
from blueprints.changes.rules import CHANGE_KIND_LABELS
from blueprints.changes.workflow import STATUS_LABELS as CHANGE_STATUS_LABELS
from blueprints.closure.models import CLOSURE_STATUS_LABELS, AccountClosure
from blueprints.customers.lifecycle import KIND_LABELS, CustomerKind
from blueprints.customers.models import CustomerCount
from blueprints.home import services as home
from core.choices import CHANNELS as CHANNEL_LABELS
from blueprints.opening.scoring import INVESTOR_CLASS_LABELS, INVESTOR_CLASSES
from blueprints.return_visit.models import Outcome, ReturnVisit
from blueprints.statistics.figures import Column, Figure, Selection, register
from core.extensions import db

UNASSESSED = "未评估"
LOWEST = "C1 最低类别"


class beijing_date(FunctionElement):
    """The Beijing calendar day of a stored (naive UTC) time; China keeps UTC+8 all year."""

    type = Date()
    name = "beijing_date"
    inherit_cache = True


@compiles(beijing_date, "sqlite")
def _beijing_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(beijing_date, "postgresql")
def _beijing_date_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} + INTERVAL '8 hours') AS DATE)"


def utc_bounds(selection: Selection) -> tuple[datetime, datetime]:
    """The stored (naive UTC) bounds of the selection's Beijing days: [first day 00:00, day after the last)."""
    return home.beijing_day_in_utc(selection.start)[0], home.beijing_day_in_utc(selection.end)[1]


def scope(user: Staff, selection: Selection, column) -> list:
    """Keep `column` to the user's branch; HQ to the branch it chose, if any."""
    if not user.sees_all_branches:
        return [column == user.branch_id]
    return [column == selection.branch_id] if selection.branch_id else []


def branches(user: Staff, selection: Selection) -> list[Branch]:
    """The branches in scope, by code (HQ itself opens no accounts and is left out)."""
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False),
                                                        *scope(user, selection, Branch.id)).order_by(Branch.code)))


def _grid(first: list, second: list, counts: dict, first_key: str, second_key: str, value_key: str = "count") -> list[dict]:
    """Every (first, second) pair with its count, zeros included: first and second are (id, label) pairs."""
    return [{first_key: label_a, second_key: label_b, value_key: counts.get((key_a, key_b), 0)}
            for key_a, label_a in first for key_b, label_b in second]


def _channels(found) -> list[tuple[str, str]]:
    keys = list(home.CHANNELS) + sorted(set(found) - set(home.CHANNELS))
    return [(key, CHANNEL_LABELS.get(key, key)) for key in keys]


def _memo(key: tuple, compute):
    """Compute once per request what several figures read (one pass over an index serves them all)."""
    memo = g.setdefault("statistics_memo", {}) if has_app_context() else {}
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def opening_counts(user: Staff, selection: Selection) -> dict[tuple, int]:
    """Fund accounts opened per (Beijing day, branch, channel) in the period: shared by the two opening figures."""
    def compute():
        start, end = utc_bounds(selection)
        day = beijing_date(FundAccount.opened_at)
        return {(str(d), b, channel): n for d, b, channel, n in db.session.execute(
            home.openings_query(start, end, day, FundAccount.branch_id, FundAccount.channel, func.count(),
                                where=tuple(scope(user, selection, FundAccount.branch_id)))
            .group_by(day, FundAccount.branch_id, FundAccount.channel))}

    return _memo(("openings", user.id, selection), compute)


def openings_daily(user: Staff, selection: Selection) -> list[dict]:
    counts: dict = {}
    for (d, _b, channel), n in opening_counts(user, selection).items():
        counts[(d, channel)] = counts.get((d, channel), 0) + n
    days = [str(selection.start + timedelta(days=i)) for i in range(selection.days)]
    return _grid([(d, d) for d in days], _channels(c for _d, c in counts), counts, "day", "channel")


def openings_by_branch(user: Staff, selection: Selection) -> list[dict]:
    counts: dict = {}
    for (_d, b, channel), n in opening_counts(user, selection).items():
        counts[(b, channel)] = counts.get((b, channel), 0) + n
    return _grid([(b.id, b.name) for b in branches(user, selection)], _channels(c for _b, c in counts), counts,
                 "branch", "channel")


def customer_counts(user: Staff, selection: Selection) -> dict[tuple, int]:
    """Customers per (branch, kind, risk class, lowest, grade), shared by the customer figures.

    Read from the kept counts (customer_count, a few rows per branch, kept by every change of a
    customer: customers.counts) rather than counted from a million customers per request.
    """
    def compute():
        return {(b, kind, risk_class or None, bool(lowest), grade or None): n
                for b, kind, risk_class, lowest, grade, n in db.session.execute(
            select(CustomerCount.branch_id, CustomerCount.kind, CustomerCount.risk_class, CustomerCount.risk_lowest,
                   CustomerCount.grade, CustomerCount.n)
            .where(CustomerCount.n != 0, *scope(user, selection, CustomerCount.branch_id)))}

    return _memo(("customers", user.id, selection.branch_id), compute)


def customers_by_kind(user: Staff, selection: Selection) -> list[dict]:
    """Customers per branch and lifecycle state; a record merged into another is not a customer of its own."""
    counts: dict = {}
    for (b, kind, _risk, _lowest, _grade), n in customer_counts(user, selection).items():
        if kind != CustomerKind.MERGED:
            counts[(b, kind)] = counts.get((b, kind), 0) + n
    return _grid([(b.id, b.name) for b in branches(user, selection)],
                 [(k.value, KIND_LABELS[k]) for k in CustomerKind if k != CustomerKind.MERGED], counts, "branch", "kind")


def risk_label(risk_class: str | None, lowest: bool) -> str:
    if risk_class is None:
        return UNASSESSED
    if lowest:
        return LOWEST
    return f"{risk_class} {INVESTOR_CLASS_LABELS.get(risk_class, '')}".strip()


RISK_LABELS = [LOWEST] + [risk_label(c, False) for c in INVESTOR_CLASSES] + [UNASSESSED]


def customers_by_risk(user: Staff, selection: Selection) -> list[dict]:
    counts: dict = {}
    for (b, kind, risk_class, lowest, _grade), n in customer_counts(user, selection).items():
        if kind == CustomerKind.CURRENT:
            key = (b, risk_label(risk_class, lowest))
            counts[key] = counts.get(key, 0) + n
    return _grid([(b.id, b.name) for b in branches(user, selection)], [(label, label) for label in RISK_LABELS],
                 counts, "branch", "risk_class")


def _rate_row(branch: str, outcomes: dict) -> dict:
    attempts = sum(outcomes.values())
    return {"branch": branch, "passed": outcomes.get(Outcome.PASSED, 0), "failed": outcomes.get(Outcome.FAILED, 0),
            "not_reached": outcomes.get(Outcome.NOT_REACHED, 0), "refused": outcomes.get(Outcome.REFUSED, 0),
            "attempts": attempts, "rate": home.pass_rate(outcomes)}


def visit_pass_rate(user: Staff, selection: Selection) -> list[dict]:
    start, end = utc_bounds(selection)
    per_branch = home.visit_outcomes_between(start, end, where=tuple(scope(user, selection, ReturnVisit.branch_id)))
    return [_rate_row(b.name, per_branch.get(b.id, {})) for b in branches(user, selection)]


def visit_pass_rate_total(rows: list[dict]) -> dict:
    outcomes = {key: sum(row[key] for row in rows) for key in ("passed", "failed", "not_reached", "refused")}
    return _rate_row("合计", {Outcome(key): n for key, n in outcomes.items()})


def changes_by_kind(user: Staff, selection: Selection) -> list[dict]:
    start, end = utc_bounds(selection)
    counts = {(kind, status): n for kind, status, n in db.session.execute(
        select(CustomerChange.kind, CustomerChange.status, func.count())
        .where(CustomerChange.created_at >= start, CustomerChange.created_at < end,
               *scope(user, selection, CustomerChange.branch_id))
        .group_by(CustomerChange.kind, CustomerChange.status))}
    return _grid(list(CHANGE_KIND_LABELS.items()), list(CHANGE_STATUS_LABELS.items()), counts, "kind", "status")


def closures_by_status(user: Staff, selection: Selection) -> list[dict]:
    start, end = utc_bounds(selection)
    counts = {(b, status): n for b, status, n in db.session.execute(
        select(AccountClosure.branch_id, AccountClosure.status, func.count())
        .where(AccountClosure.created_at >= start, AccountClosure.created_at < end,
               *scope(user, selection, AccountClosure.branch_id))
        .group_by(AccountClosure.branch_id, AccountClosure.status))}
    return _grid([(b.id, b.name) for b in branches(user, selection)], list(CLOSURE_STATUS_LABELS.items()), counts,
                 "branch", "status")


COUNT = Column("count", "数量", "int")
BRANCH = Column("branch", "营业部")

register(Figure(
    key="openings_daily", title="每日开户（按开户方式）", query=openings_daily, chart="line",
    columns=(Column("day", "日期"), Column("channel", "开户方式"), COUNT), category="day", series="channel",
    value="count", unit=" 户", order=10,
    note="按资金账户开立日（北京时间）统计，开立失败的不计。"))
register(Figure(
    key="openings_by_branch", title="各营业部开户（按开户方式）", query=openings_by_branch, chart="stacked",
    columns=(BRANCH, Column("channel", "开户方式"), COUNT), category="branch", series="channel", value="count",
    unit=" 户", order=20, note="统计期内开立的资金账户，开立失败的不计。"))
register(Figure(
    key="customers_by_kind", title="客户数（按营业部、客户类别）", query=customers_by_kind, chart="stacked",
    columns=(BRANCH, Column("kind", "客户类别"), COUNT), category="branch", series="kind", value="count",
    unit=" 户", period=False, order=30, note="当前客户档案数，不受统计期影响。"))
register(Figure(
    key="customers_by_risk", title="现有客户风险承受能力等级", query=customers_by_risk, chart="stacked",
    columns=(BRANCH, Column("risk_class", "风险等级"), COUNT), category="branch", series="risk_class",
    value="count", unit=" 户", period=False, order=40,
    note="现有客户最近一次适当性评估的等级；“最低类别”为选择了最低类别选项的 C1 客户。不受统计期影响。"))
register(Figure(
    key="visit_pass_rate", title="回访通过率（按营业部）", query=visit_pass_rate, chart="bar",
    columns=(BRANCH, Column("passed", "通过", "int"), Column("failed", "未通过", "int"),
             Column("not_reached", "未接通", "int"), Column("refused", "客户拒绝", "int"),
             Column("attempts", "回访次数", "int"), Column("rate", "通过率", "percent")),
    category="branch", value="rate", order=50, total=visit_pass_rate_total,
    note="统计期内的每次回访尝试计一次（含未接通）；通过率 = 通过次数 ÷ 回访次数。"))
register(Figure(
    key="changes_by_kind", title="资料变更（按类型、状态）", query=changes_by_kind, chart="stacked",
    columns=(Column("kind", "变更类型"), Column("status", "状态"), COUNT), category="kind", series="status",
    value="count", unit=" 笔", order=60, note="统计期内受理的资料变更，按当前状态。"))
register(Figure(
    key="closures_by_status", title="销户（按营业部、状态）", query=closures_by_status, chart="stacked",
    columns=(BRANCH, Column("status", "状态"), COUNT), category="branch", series="status", value="count",
    unit=" 笔", order=70, note="统计期内受理的销户申请，按当前状态。"))
