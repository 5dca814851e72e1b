"""The CRM figures: customers by grade, service records, complaints (channel, category, deadlines kept), handovers.

Registered beside the built-in figures and read the same way: one GROUP BY each, kept to the
user's branch (HQ: all, or the branch it chose), zeros filled in; counts only, never a customer.
"""
from sqlalchemy import and_, case, func, or_, select

from blueprints.customers.lifecycle import ENDED
from blueprints.grading.rules import GRADE_LABELS
from blueprints.managers.models import Handover
from blueprints.managers.rules import STATUS_LABELS as HANDOVER_STATUS_LABELS
from blueprints.service import services as service
from blueprints.service.models import Complaint, ServiceRecord
from blueprints.dictionaries import services as dictionaries
from blueprints.service.rules import CATEGORY_DICTIONARY, CHANNEL_LABELS, KIND_LABELS, STATUS_LABELS, ServiceStatus
from blueprints.statistics.builtin import (BRANCH, COUNT, _grid, beijing_date, branches, customer_counts, scope,
                                           utc_bounds)
from blueprints.statistics.figures import Column, Figure, Selection, register
from core.extensions import db

UNGRADED = "ungraded"
GRADES = [*GRADE_LABELS.items(), (UNGRADED, "未评级")]

# How a complaint received in the period stands against its resolution deadline (办结时限).
ON_TIME, LATE, OPEN_OVERDUE, OPEN_IN_TIME = "on_time", "late", "open_overdue", "open_in_time"
DEADLINE_LABELS = {ON_TIME: "按期办结", LATE: "超期办结", OPEN_OVERDUE: "未办结·已超期", OPEN_IN_TIME: "未办结·未到期"}


def _labels(labels: dict, found) -> list[tuple[str, str]]:
    """The known keys in their order, then any stored key the labels do not know (shown as it is)."""
    keys = list(labels) + sorted({key for key in found if key not in labels})
    return [(key, labels.get(key, key)) for key in keys]


def customers_by_grade(user, selection: Selection) -> list[dict]:
    """Customers per branch and current grade; customers never graded count as 未评级. Closed customers are not graded.

    Read from the kept counts (customer_count, by the grade copied onto the customer), like the other
    customer figures: a few rows per branch, not a million customers per request.
    """
    counts: dict = {}
    for (b, kind, _risk, _lowest, g), n in customer_counts(user, selection).items():
        if kind not in ENDED:
            counts[(b, g or UNGRADED)] = counts.get((b, g or UNGRADED), 0) + n
    return _grid([(b.id, b.name) for b in branches(user, selection)], _labels(dict(GRADES), (g for _b, g in counts)),
                 counts, "branch", "grade")


def service_records_by_kind(user, selection: Selection) -> list[dict]:
    start, end = utc_bounds(selection)
    counts = {(kind, status): n for kind, status, n in db.session.execute(
        select(ServiceRecord.kind, ServiceRecord.status, func.count())
        .where(ServiceRecord.created_at >= start, ServiceRecord.created_at < end,
               *scope(user, selection, ServiceRecord.branch_id))
        .group_by(ServiceRecord.kind, ServiceRecord.status))}
    return _grid(_labels(KIND_LABELS, (k for k, _s in counts)), _labels(STATUS_LABELS, (s for _k, s in counts)),
                 counts, "kind", "status")


def _complaints_received(user, selection: Selection, *columns):
    """Complaints received in the period (their 受理日, a Beijing day), in the user's branches."""
    return select(*columns).select_from(Complaint).join(ServiceRecord, ServiceRecord.id == Complaint.record_id) \
        .where(Complaint.received_on >= selection.start, Complaint.received_on <= selection.end,
               *scope(user, selection, ServiceRecord.branch_id))


def complaints_by_channel(user, selection: Selection) -> list[dict]:
    counts = {(category, channel): n for category, channel, n in db.session.execute(
        _complaints_received(user, selection, Complaint.category, Complaint.channel, func.count())
        .group_by(Complaint.category, Complaint.channel))}
    # Business lines along the axis, the (fewer) channels as the stacks: each channel keeps its own colour.
    return _grid(_labels(dictionaries.labels(CATEGORY_DICTIONARY), (k for k, _c in counts)), _labels(CHANNEL_LABELS, (c for _k, c in counts)),
                 counts, "category", "channel")


def deadline_state(today):
    """Where a complaint stands against its deadlines on `today`, as one SQL expression."""
    closed = ServiceRecord.status == ServiceStatus.CLOSED
    overdue = or_(Complaint.resolution_due < today,
                  and_(Complaint.first_contacted_at.is_(None), Complaint.first_contact_due < today))
    return case((and_(closed, beijing_date(ServiceRecord.closed_at) <= Complaint.resolution_due), ON_TIME),
                (closed, LATE), (overdue, OPEN_OVERDUE), else_=OPEN_IN_TIME)


def complaints_by_deadline(user, selection: Selection) -> list[dict]:
    state = deadline_state(service.today())
    counts = {(b, s): n for b, s, n in db.session.execute(
        _complaints_received(user, selection, ServiceRecord.branch_id, state, func.count())
        .group_by(ServiceRecord.branch_id, state))}
    return _grid([(b.id, b.name) for b in branches(user, selection)], list(DEADLINE_LABELS.items()), counts,
                 "branch", "state")


def handovers_by_status(user, selection: Selection) -> list[dict]:
    start, end = utc_bounds(selection)
    counts = {(b, status): n for b, status, n in db.session.execute(
        select(Handover.branch_id, Handover.status, func.count())
        .where(Handover.requested_at >= start, Handover.requested_at < end, *scope(user, selection, Handover.branch_id))
        .group_by(Handover.branch_id, Handover.status))}
    return _grid([(b.id, b.name) for b in branches(user, selection)],
                  _labels(HANDOVER_STATUS_LABELS, (s for _b, s in counts)), counts, "branch", "status")


register(Figure(
    key="customers_by_grade", title="客户级别（按营业部）", query=customers_by_grade, chart="stacked",
    columns=(BRANCH, Column("grade", "客户级别"), COUNT), category="branch", series="grade", value="count",
    unit=" 户", period=False, order=80,
    note="客户当前的分类分级结果；尚未评级的计为“未评级”，历史客户不计。不受统计期影响。"))
register(Figure(
    key="service_records_by_kind", title="服务记录（按类型、状态）", query=service_records_by_kind, chart="stacked",
    columns=(Column("kind", "服务类型"), Column("status", "状态"), COUNT), category="kind", series="status",
    value="count", unit=" 笔", order=90, note="统计期内登记的服务记录（含投诉），按当前状态。"))
register(Figure(
    key="complaints_by_channel", title="投诉（按业务条线、渠道）", query=complaints_by_channel, chart="stacked",
    columns=(Column("category", "业务条线"), Column("channel", "投诉渠道"), COUNT), category="category",
    series="channel", value="count", unit=" 笔", order=100, note="按受理日统计期内受理的投诉。"))
register(Figure(
    key="complaints_by_deadline", title="投诉办结时限（按营业部）", query=complaints_by_deadline, chart="stacked",
    columns=(BRANCH, Column("state", "办结情况"), COUNT), category="branch", series="state", value="count",
    unit=" 笔", order=110,
    note="统计期内受理的投诉：在办结时限（含延期）内办结、超期办结、未办结且已超期（首次联系或办结时限已过）、未办结未到期。"))
register(Figure(
    key="handovers_by_status", title="客户移交（按营业部、状态）", query=handovers_by_status, chart="stacked",
    columns=(BRANCH, Column("status", "状态"), COUNT), category="branch", series="status", value="count",
    unit=" 笔", order=120, note="统计期内提交的客户移交与离职移交，按当前状态。"))
