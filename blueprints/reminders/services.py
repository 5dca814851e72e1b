"""The built-in reminder sources: ID documents, risk assessments, birthdays, each counted and paged in the database."""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import and_, bindparam, case, exists, func, select
from sqlalchemy.orm import aliased

from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerProfile, IdDocument
from blueprints.opening.models import SuitabilityAssessment
from blueprints.reminders import registry, rules
from blueprints.reminders.registry import ReminderRow
from core.extensions import db

_profile = and_(CustomerProfile.customer_id == Customer.id, CustomerProfile.version == Customer.profile_version)


@dataclass(frozen=True)
class QuerySource:
    """A source built from one query: a date column it filters and orders by, and the join that brings it.

    `conditions(today)` narrows the customers; `order(today)` puts the most urgent first; `note`
    says in words why a row is there.
    """

    key: str
    title: str
    severity: str
    join: Callable
    column: object
    conditions: Callable[[date], list]
    order: Callable[[date], list]
    note: Callable[[date, date | None], str]

    # Birthdays filter on the profile; the others need it only for the names they list.
    needs_profile: bool = False

    def _select(self, base, today: date, names: bool = True):
        query = self.join(base)
        if names or self.needs_profile:
            query = query.join(CustomerProfile, _profile)
        return query.where(*self.conditions(today))

    def count(self, user, today: date, cap: int | None = None) -> int:
        """How many customers are due; with `cap`, counting stops there (the card shows "cap+")."""
        query = self._select(customer_services.visible(user), today, names=False)
        if cap is None:
            return db.session.scalar(query.with_only_columns(func.count(Customer.id))) or 0
        limited = query.with_only_columns(Customer.id).limit(cap).subquery()
        return db.session.scalar(select(func.count()).select_from(limited)) or 0

    def rows(self, user, today: date, offset: int, limit: int) -> list[ReminderRow]:
        query = self._select(customer_services.visible(user), today).with_only_columns(
            Customer.customer_no, CustomerProfile.name, self.column)
        found = db.session.execute(query.order_by(*self.order(today), Customer.id).offset(offset).limit(limit))
        return [ReminderRow(no, name, on, self.note(today, on)) for no, name, on in found]

    def for_customer(self, customer, today: date) -> ReminderRow | None:
        found = db.session.execute(self._for_customer_statement(today), {"customer_id": customer.id}).first()
        return ReminderRow(found[0], found[1], found[2], self.note(today, found[2])) if found else None

    def _for_customer_statement(self, today: date):
        # The same statement for every customer on a day, the customer a parameter: built once, not on
        # every customer page (building it cost more than SQLite running it).
        key = (self.key, today)
        statement = _FOR_CUSTOMER.get(key)
        if statement is None:
            statement = self._select(select(Customer).where(Customer.id == bindparam("customer_id")), today) \
                .with_only_columns(Customer.customer_no, CustomerProfile.name, self.column).limit(1)
            for stale in [k for k in _FOR_CUSTOMER if k[1] != today]:
                _FOR_CUSTOMER.pop(stale, None)
            _FOR_CUSTOMER[key] = statement
        return statement


# (source key, day) -> the statement of QuerySource.for_customer for that day.
_FOR_CUSTOMER: dict = {}


def _current_document(query):
    return query.join(IdDocument, and_(IdDocument.customer_id == Customer.id, IdDocument.superseded_at.is_(None)))


def _days_left(today: date, on: date) -> str:
    return "今天到期" if on == today else f"{(on - today).days} 天后到期"


def _id_band(days: int) -> QuerySource:
    def conditions(today):
        low, high = rules.band_range(days, today)
        return [IdDocument.valid_to >= low, IdDocument.valid_to <= high]

    first, _ = rules.band_range(days, date.min)
    start = (first - date.min).days
    return QuerySource(
        key=f"id_within_{days}", title=f"证件 {start}–{days} 天内到期" if start else f"证件 {days} 天内到期",
        severity="warning" if not start else "info", join=_current_document, column=IdDocument.valid_to,
        conditions=conditions, order=lambda today: [IdDocument.valid_to.asc()], note=_days_left)


ID_EXPIRED = QuerySource(
    key="id_expired", title="证件已过期", severity="danger", join=_current_document, column=IdDocument.valid_to,
    conditions=lambda today: [IdDocument.valid_to < today], order=lambda today: [IdDocument.valid_to.asc()],
    note=lambda today, on: f"已过期 {(today - on).days} 天")


def _current_assessment(query):
    newer = aliased(SuitabilityAssessment)
    return query.join(SuitabilityAssessment, and_(
        SuitabilityAssessment.customer_id == Customer.id,
        ~exists().where(newer.customer_id == SuitabilityAssessment.customer_id, newer.id > SuitabilityAssessment.id)))


ASSESSMENT_EXPIRED = QuerySource(
    key="assessment_expired", title="风险测评已过期", severity="danger", join=_current_assessment,
    column=SuitabilityAssessment.expires_on, conditions=lambda today: [SuitabilityAssessment.expires_on < today],
    order=lambda today: [SuitabilityAssessment.expires_on.asc()],
    note=lambda today, on: f"已过期 {(today - on).days} 天，须重新测评")

ASSESSMENT_EXPIRING = QuerySource(
    key="assessment_within_30", title=f"风险测评 {rules.ASSESSMENT_DAYS} 天内到期", severity="warning",
    join=_current_assessment, column=SuitabilityAssessment.expires_on,
    conditions=lambda today: [SuitabilityAssessment.expires_on >= today,
                              SuitabilityAssessment.expires_on <= today + timedelta(days=rules.ASSESSMENT_DAYS)],
    order=lambda today: [SuitabilityAssessment.expires_on.asc()], note=_days_left)


def _birthdays(key: str, title: str, start: int, days: int) -> QuerySource:
    def month_days(today):
        return rules.birthday_month_days(today + timedelta(days=start), days)

    def note(today, born):
        if born is None:
            return ""
        offset = month_days(today).get(rules.month_day(born), 0) + start
        return "今天生日" if offset == 0 else f"{(today + timedelta(days=offset)):%m月%d日}生日"

    return QuerySource(
        key=key, title=title, severity="info", join=lambda query: query, column=CustomerProfile.birth_date,
        needs_profile=True,
        conditions=lambda today: [CustomerProfile.birth_month_day.in_(list(month_days(today)))],
        # The nearest birthday first: the month-day's offset from today, not its place in the calendar.
        order=lambda today: [case(month_days(today), value=CustomerProfile.birth_month_day, else_=99)],
        note=note)


BIRTHDAY_TODAY = _birthdays("birthday_today", "今天生日", 0, 1)
BIRTHDAY_WEEK = _birthdays("birthday_week", f"{rules.BIRTHDAY_WEEK_DAYS - 1} 天内生日", 1, rules.BIRTHDAY_WEEK_DAYS - 1)

BUILT_IN = (ID_EXPIRED, *(_id_band(days) for days in rules.ID_BANDS), ASSESSMENT_EXPIRED, ASSESSMENT_EXPIRING,
            BIRTHDAY_TODAY, BIRTHDAY_WEEK)


def register_built_in() -> None:
    for item in BUILT_IN:
        registry.register(item)


def current_assessment(customer_id: int) -> SuitabilityAssessment | None:
    """The customer's latest risk-tolerance assessment: the risk class in force and its expiry."""
    return db.session.scalar(select(SuitabilityAssessment).where(SuitabilityAssessment.customer_id == customer_id)
                             .order_by(SuitabilityAssessment.id.desc()).limit(1))
