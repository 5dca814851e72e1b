"""The customer list (客户查询): its filters as one query, newest first by keyset, the rows' columns, saved filters.

The list lives here, above customers, grading and managers, rather than in customers with a registry
of filters: grade and manager are a condition and a column each, read from tables customers may not
import, and this package already sits above all three for the header search. A registry would carry
form fields, choices, conditions and row columns across the layer for two filters. The page keeps the
customers blueprint's URL and endpoint (`customers.index`), so every link to it stays as it is.

Opened between (建档日期) reads `Customer.created_at`, the day the customer record was made: it is the
list's order, so the range and the order share one index; the first account's opening is the same day
for every customer enrolled by an opening, and a potential customer has no account yet.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

from sqlalchemy import exists, false, func, select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customers
from blueprints.customers.models import Customer, IdDocument
from blueprints.grading.models import CustomerGrade
from blueprints.managers import services as managers
from blueprints.search import indexes  # noqa: F401  (the list's indexes)
from blueprints.search.models import SavedCustomerFilter
from core import keyset
from core.extensions import db
from core.keyset import Order
from core.roles import ROLES_SEEING_OWN_CUSTOMERS, Role
from core.timeutil import BEIJING

SCOPE = "customers.list"
ORDER = [Order(Customer.created_at, descending=True), Order(Customer.id, descending=True)]
# Everything beyond this many rows is refused with a message: narrow the filters instead.
EXPORT_LIMIT = 100_000
EXPORT_BATCH = 1000
SAVED_FILTER_LIMIT = 30

# Who may take a list out of the system as a file. Customer managers and brokers may not: their
# customers stay with the firm when they leave (客户资料归公司所有), so their book is never exported.
# Return-visit agents neither: they call the customers their queue gives them, one at a time, and a
# file of names and phones is exactly what should never leave a call centre.
EXPORT_ROLES = (Role.CLERK, Role.REVIEWER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)


@dataclass(frozen=True)
class Filters:
    """The chosen filters, already checked (ids exist and are within the user's reach)."""

    q: str = ""
    branch_id: int | None = None
    kind: str | None = None
    grade: str | None = None
    risk_class: str | None = None
    manager_id: int | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    id_expiry: str | None = None  # "expired" or a number of days

    @classmethod
    def from_form(cls, form) -> "Filters":
        def number(value):
            return int(value) if value else None

        return cls(q=form.q.data or "", branch_id=number(form.branch.data), kind=form.kind.data or None,
                   grade=form.grade.data or None, risk_class=form.risk.data or None,
                   manager_id=number(form.manager.data), opened_from=form.opened_from.data,
                   opened_to=form.opened_to.data, id_expiry=form.id_expiry.data or None)


def _beijing_midnight(day: date) -> datetime:
    """The naive UTC instant a Beijing day starts (created_at is stored in UTC)."""
    return datetime.combine(day, time(), BEIJING).astimezone(timezone.utc).replace(tzinfo=None)


def _next_prefix(prefix: str) -> str:
    """The first string after every string starting with `prefix` (letters and digits, code-point order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def condition_on_id_expiry(choice: str, today: date):
    """A condition on Customer: the current ID document is expired, or ends within `choice` days."""
    current = select(IdDocument.id).where(IdDocument.customer_id == Customer.id, IdDocument.superseded_at.is_(None))
    if choice == "expired":
        current = current.where(IdDocument.valid_to < today)
    else:
        current = current.where(IdDocument.valid_to >= today, IdDocument.valid_to <= today + timedelta(days=int(choice)))
    return current.correlate(Customer).exists()


def query(user: Staff, filters: Filters, today: date):
    """Select the customers `user` may see that match every chosen filter."""
    found = customers.visible(user)
    if filters.q:
        if not customers.CUSTOMER_NO_QUERY.fullmatch(filters.q):
            return found.where(false())
        # The range lets the unique index find the numbers; LIKE keeps the match exact on any collation.
        found = found.where(Customer.customer_no >= filters.q, Customer.customer_no < _next_prefix(filters.q),
                            Customer.customer_no.startswith(filters.q, autoescape=True))
    if filters.branch_id and user.sees_all_branches:
        found = found.where(Customer.branch_id == filters.branch_id)
    if filters.kind:
        found = found.where(Customer.kind == filters.kind)
    if filters.risk_class:
        found = found.where(Customer.risk_class == filters.risk_class)
    if filters.grade:
        found = found.where(exists().where(CustomerGrade.customer_id == Customer.id,
                                           CustomerGrade.grade == filters.grade).correlate(Customer))
    if filters.manager_id:
        # IN, like the customer managers' own scope: a book of a few thousand is read from the staff
        # index and sorted, instead of probing every customer of the branch.
        found = found.where(Customer.id.in_(managers.assigned_customer_ids(filters.manager_id, today)))
    if filters.opened_from:
        found = found.where(Customer.created_at >= _beijing_midnight(filters.opened_from))
    if filters.opened_to:
        found = found.where(Customer.created_at < _beijing_midnight(filters.opened_to + timedelta(days=1)))
    if filters.id_expiry:
        found = found.where(condition_on_id_expiry(filters.id_expiry, today))
    return found


@dataclass
class Row:
    """One line of the list: the customer (with the current profile) and the columns read from elsewhere."""

    customer: Customer
    branch: str
    grade: str | None
    manager: str | None
    id_type: str | None
    id_valid_to: date | None
    has_document: bool


def rows_of(found: list[Customer], today: date) -> list[Row]:
    """The list's columns for a page of customers: four queries whatever the page's length."""
    ids = [c.id for c in found]
    if not ids:
        return []
    branch_ids = {c.branch_id for c in found}
    branch_names = dict(db.session.execute(select(Branch.id, Branch.name).where(Branch.id.in_(branch_ids))).all())
    grades = dict(db.session.execute(select(CustomerGrade.customer_id, CustomerGrade.grade)
                                     .where(CustomerGrade.customer_id.in_(ids))).all())
    assignment = managers.current_assignments(today).subquery()
    manager_names = dict(db.session.execute(
        select(assignment.c.customer_id, Staff.full_name).join(Staff, Staff.id == assignment.c.staff_id)
        .where(assignment.c.customer_id.in_(ids))).all())
    documents = {row.customer_id: row for row in db.session.execute(
        select(IdDocument.customer_id, IdDocument.id_type, IdDocument.valid_to)
        .where(IdDocument.customer_id.in_(ids), IdDocument.superseded_at.is_(None))).all()}
    out = []
    for customer in found:
        document = documents.get(customer.id)
        out.append(Row(customer=customer, branch=branch_names.get(customer.branch_id, ""),
                       grade=grades.get(customer.id), manager=manager_names.get(customer.id),
                       id_type=document.id_type if document else None,
                       id_valid_to=document.valid_to if document else None, has_document=document is not None))
    return out


def page(user: Staff, filters: Filters, cursor: str | None, today: date, size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the list, newest first, with its rows' columns."""
    result = keyset.paginate(query(user, filters, today), ORDER, cursor, scope=SCOPE,
                             key=lambda c: (c.created_at, c.id), size=size)
    result.extra["rows"] = rows_of(result.rows, today)
    return result


def export_count(user: Staff, filters: Filters, today: date, limit: int) -> int:
    """How many rows an export would hold, counting no further than `limit + 1`."""
    capped = query(user, filters, today).with_only_columns(Customer.id).limit(limit + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped))


def export_rows(user: Staff, filters: Filters, today: date, batch: int = EXPORT_BATCH) -> Iterator[Row]:
    """Every row of the list in its order, a keyset batch at a time (memory stays one batch)."""
    cursor = None
    while True:
        result = keyset.paginate(query(user, filters, today), ORDER, cursor, scope=SCOPE,
                                 key=lambda c: (c.created_at, c.id), size=batch)
        yield from rows_of(result.rows, today)
        if result.next_cursor is None:
            return
        cursor = result.next_cursor
        for customer in result.rows:  # written: let them go (only them: the audit event waits to be committed)
            if customer.profile is not None:
                db.session.expunge(customer.profile)
            db.session.expunge(customer)


# -- choices the form offers

def filter_branches(user: Staff) -> list[Branch]:
    """The branches HQ may filter by; others are not offered any."""
    if not user.sees_all_branches:
        return []
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False)).order_by(Branch.code)))


def filter_managers(user: Staff) -> list[Staff]:
    """The customer managers and brokers one may filter by: the branch's (HQ: every branch's); none for themselves."""
    if user.role in ROLES_SEEING_OWN_CUSTOMERS:
        return []
    return managers.managers_in_branch(None if user.sees_all_branches else user.branch_id)



# -- saved filters (常用筛选)

class FilterNameTaken(Exception):
    """The user already keeps a filter under this name."""


def saved_filters(user: Staff) -> list[SavedCustomerFilter]:
    return list(db.session.scalars(select(SavedCustomerFilter).where(SavedCustomerFilter.staff_id == user.id)
                                   .order_by(SavedCustomerFilter.name).limit(SAVED_FILTER_LIMIT)))


def save_filter(user: Staff, name: str, params: dict) -> SavedCustomerFilter:
    """Keep the filters under `name` for this user; a name is theirs once."""
    taken = db.session.scalar(select(SavedCustomerFilter.id).where(SavedCustomerFilter.staff_id == user.id,
                                                                   SavedCustomerFilter.name == name))
    if taken is not None:
        raise FilterNameTaken(name)
    saved = SavedCustomerFilter(staff_id=user.id, name=name, params=params)
    try:
        with db.session.begin_nested():
            db.session.add(saved)
            db.session.flush()
    except IntegrityError:  # the same name saved at the same moment from another tab
        raise FilterNameTaken(name) from None
    return saved


def own_filter(user: Staff, filter_id: int) -> SavedCustomerFilter | None:
    """The user's own saved filter of this id; another user's is not found."""
    return db.session.scalar(select(SavedCustomerFilter).where(SavedCustomerFilter.id == filter_id,
                                                               SavedCustomerFilter.staff_id == user.id))


def delete_filter(saved: SavedCustomerFilter) -> None:
    db.session.delete(saved)
    db.session.flush()
