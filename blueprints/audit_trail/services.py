"""Reading the audit trail: one page at a time, newest first, within the reader's scope."""
from datetime import date, timedelta

from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from core import keyset
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import beijing_day_start

SCOPE = "audit.trail"


def trail_page(user: Staff, cursor: str | None = None, *, username: str = "", category: str = "",
               object_id: str = "", branch_id: int | None = None, date_from: date | None = None,
               date_to: date | None = None, size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of audit entries, newest first. A branch manager reads what their branch's staff did
    (the entry's branch is the actor's at the time); HQ reads every branch, or the one chosen."""
    query = select(AuditEvent)
    if not user.sees_all_branches:
        query = query.where(AuditEvent.branch_id == user.branch_id)
    elif branch_id:
        query = query.where(AuditEvent.branch_id == branch_id)
    if username:
        query = query.where(AuditEvent.actor_name == username)
    if category:
        # "customer" and not "customers", "customer_change": the category is the text before the first dot.
        query = query.where(AuditEvent.action.startswith(category + ".", autoescape=True))
    if object_id:
        # Customer numbers and references are kept in capitals; a username as typed.
        query = query.where(AuditEvent.object_id.in_({object_id, object_id.upper()}))
    if date_from:
        query = query.where(AuditEvent.at >= beijing_day_start(date_from))
    if date_to:
        query = query.where(AuditEvent.at < beijing_day_start(date_to + timedelta(days=1)))
    orders = [keyset.Order(AuditEvent.at, True), keyset.Order(AuditEvent.id, True)]
    found = keyset.paginate(query, orders, cursor, scope=SCOPE, size=size, key=lambda e: (e.at, e.id))
    found.extra["branches"] = branch_names()
    return found


def branch_names() -> dict[int, str]:
    return dict(db.session.execute(select(Branch.id, Branch.name)).all())


def branches_for(user: Staff) -> list[Branch]:
    """The branches the user may filter by: every one for HQ, none to choose for a branch manager."""
    if not user.sees_all_branches:
        return []
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))
