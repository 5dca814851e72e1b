"""The service package's reminder sources: follow-ups and complaint deadlines, overdue or due, for the home page card.

Each source is one query over the records the staff member may see (services.visible_records),
counted and paged in the database like the registry's built-in sources; a row links the record.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from flask import current_app, url_for
from sqlalchemy import and_, func, or_, select

from blueprints.customers.models import Customer, CustomerProfile
from blueprints.reminders import registry
from blueprints.reminders.registry import ReminderRow
from blueprints.service import services
from blueprints.service.models import Complaint, ServiceRecord
from blueprints.service.rules import KIND_LABELS, ServiceKind, ServiceStatus
from core.extensions import db

_profile = and_(CustomerProfile.customer_id == Customer.id, CustomerProfile.version == Customer.profile_version)


def _ahead(today: date) -> date:
    return today + timedelta(days=current_app.config["REMINDER_DAYS_AHEAD"])


def _not_contacted_by(day: date):
    return and_(Complaint.first_contacted_at.is_(None), Complaint.first_contact_due < day)


def _complaint_overdue(today: date):
    return or_(Complaint.resolution_due < today, _not_contacted_by(today))


def _complaint_due(today: date):
    """Not overdue yet, but a deadline falls within the days ahead, or nobody handles it yet."""
    ahead = _ahead(today)
    return and_(~_complaint_overdue(today),
                or_(Complaint.resolution_due <= ahead,
                    and_(Complaint.first_contacted_at.is_(None), Complaint.first_contact_due <= ahead),
                    Complaint.handler_id.is_(None)))


def _complaint_note(today: date, record: ServiceRecord, complaint: Complaint) -> tuple[date, str]:
    reasons = services.overdue_reasons(record, today)
    if complaint.handler_id is None and not reasons:
        return complaint.first_contact_due, "待指定处理人"
    if reasons:
        return complaint.resolution_due, "；".join(reasons) + ("（已升级至营业部负责人）" if complaint.escalated_at else "")
    if complaint.first_contacted_at is None and complaint.first_contact_due <= _ahead(today):
        return complaint.first_contact_due, f"须于 {complaint.first_contact_due} 前首次联系客户"
    return complaint.resolution_due, f"须于 {complaint.resolution_due} 前办结"


def _follow_up_note(today: date, record: ServiceRecord) -> tuple[date, str]:
    on = record.follow_up_on
    if on < today:
        return on, f"跟进已过期 {(today - on).days} 天"
    return on, "今日跟进" if on == today else f"{on} 待跟进"


@dataclass(frozen=True)
class RecordSource:
    """A reminder over open service records: which of them (`conditions`), most urgent first (`order`)."""

    key: str
    title: str
    severity: str
    complaints: bool
    conditions: Callable[[object, date], list]
    order: Callable[[], list]
    note: Callable
    # Reading this source escalates the overdue complaints (once each) for a manager.
    escalates: bool = False
    unit: str = "项"

    def _query(self, user, today: date):
        if user.role not in services.SERVICE_ROLES:
            return None
        query = services.visible_records(user).where(ServiceRecord.status != ServiceStatus.CLOSED,
                                                     *self.conditions(user, today))
        if self.complaints:
            query = query.join(Complaint, Complaint.record_id == ServiceRecord.id)
        return query

    def prepare(self, user, today: date) -> None:
        # An overdue complaint is escalated to the branch manager once, when a manager reads it.
        if self.escalates and user.role in services.MANAGER_ROLES:
            services.escalate_overdue(None if user.sees_all_branches else user.branch_id, today)

    def count(self, user, today: date, cap: int | None = None) -> int:
        query = self._query(user, today)
        if query is None:
            return 0
        ids = query.with_only_columns(ServiceRecord.id)
        if cap is not None:
            ids = ids.limit(cap)
        return db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0

    def rows(self, user, today: date, offset: int, limit: int) -> list[ReminderRow]:
        query = self._query(user, today)
        if query is None:
            return []
        query = query.join(Customer, Customer.id == ServiceRecord.customer_id).join(CustomerProfile, _profile) \
            .add_columns(Customer.customer_no, CustomerProfile.name)
        found = []
        for record, customer_no, name in db.session.execute(
                query.order_by(*self.order(), ServiceRecord.id).offset(offset).limit(limit)):
            on, note = self.note(today, record)
            found.append(ReminderRow(customer_no, name, on, note,
                                     href=url_for("service.detail", reference=record.reference),
                                     label=f"{KIND_LABELS[record.kind]} {record.reference}：{record.subject}"))
        return found

    def for_customer(self, customer, today: date) -> ReminderRow | None:
        # Follow-ups and complaints are the owner's and the branch manager's to see; the customer page
        # lists the customer's service records already.
        return None


def _owned_follow_ups(condition):
    def conditions(user, today):
        return [ServiceRecord.owner_id == user.id, ServiceRecord.follow_up_on.is_not(None), condition(today)]
    return conditions


def _complaints(condition):
    def conditions(user, today):
        found = [ServiceRecord.kind == ServiceKind.COMPLAINT, condition(today)]
        if user.role not in services.MANAGER_ROLES:
            found.append(ServiceRecord.owner_id == user.id)
        return found
    return conditions


FOLLOW_UPS_OVERDUE = RecordSource(
    key="follow_ups_overdue", title="服务跟进已过期", severity="danger", complaints=False,
    conditions=_owned_follow_ups(lambda today: ServiceRecord.follow_up_on < today),
    order=lambda: [ServiceRecord.follow_up_on.asc()], note=_follow_up_note)

FOLLOW_UPS_DUE = RecordSource(
    key="follow_ups_due", title="服务待跟进", severity="warning", complaints=False,
    conditions=_owned_follow_ups(lambda today: and_(ServiceRecord.follow_up_on >= today,
                                                    ServiceRecord.follow_up_on <= _ahead(today))),
    order=lambda: [ServiceRecord.follow_up_on.asc()], note=_follow_up_note)

COMPLAINTS_OVERDUE = RecordSource(
    key="complaints_overdue", title="投诉已超期", severity="danger", complaints=True,
    conditions=_complaints(_complaint_overdue), order=lambda: [Complaint.resolution_due.asc()], escalates=True,
    note=lambda today, record: _complaint_note(today, record, record.complaint))

COMPLAINTS_DUE = RecordSource(
    key="complaints_due", title="投诉时限将到", severity="warning", complaints=True,
    conditions=_complaints(_complaint_due),
    # Those nobody handles yet first, then by the nearer deadline.
    order=lambda: [Complaint.handler_id.is_not(None), Complaint.first_contact_due.asc(), Complaint.resolution_due.asc()],
    note=lambda today, record: _complaint_note(today, record, record.complaint))

SOURCES = (COMPLAINTS_OVERDUE, FOLLOW_UPS_OVERDUE, COMPLAINTS_DUE, FOLLOW_UPS_DUE)


def register() -> None:
    for item in SOURCES:
        registry.register(item)
