"""The home page's reminder card, counted at most every few minutes per staff member.

Counting every source over a branch's customers is most of a home page's time (about 100 ms at
10,000 customers), and what it shows changes by the day: documents and assessments that expire,
birthdays, follow-ups due. So a staff member's card is kept in the database (encrypted, it names
customers) and counted again when it is older than REMINDER_CARD_SECONDS, on another business day,
after the staff member's role or branch changed, when they ask for it (the card's 刷新), or after any
request of theirs that wrote something, so what they have just handled leaves their card at once.
Others' changes show within REMINDER_CARD_SECONDS. The full lists behind the card are always live.
"""
from dataclasses import asdict
from datetime import date, datetime, timedelta

from flask import current_app, has_request_context
from flask_login import current_user
from sqlalchemy import delete, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from blueprints.reminders import registry
from blueprints.reminders.models import ReminderCard
from core.db import begin_writing
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import utcnow


def _scope(user) -> str:
    return f"{user.role}:{user.branch_id}:{int(bool(user.sees_all_branches))}"


def _stored(reminders: list[registry.Reminder]) -> list[dict]:
    found = []
    for item in reminders:
        entry = asdict(item)
        entry["rows"] = [{**row, "on": row["on"].isoformat() if row["on"] else None} for row in entry["rows"]]
        found.append(entry)
    return found


def _loaded(stored: list[dict]) -> list[registry.Reminder]:
    return [registry.Reminder(**{**entry, "rows": [
        registry.ReminderRow(**{**row, "on": date.fromisoformat(row["on"]) if row["on"] else None})
        for row in entry["rows"]]}) for entry in stored]


def _upsert(values: dict) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ReminderCard).values(**values)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[ReminderCard.staff_id], set_={k: v for k, v in values.items() if k != "staff_id"}))


def card(user, fresh: bool = False) -> tuple[list[registry.Reminder], datetime]:
    """The staff member's card and when it was counted: the kept one while it is current, else counted now."""
    today, now = registry.business_day(), utcnow()
    if not fresh:
        kept = db.session.get(ReminderCard, user.id)
        max_age = timedelta(seconds=current_app.config["REMINDER_CARD_SECONDS"])
        if kept is not None and kept.day == today and kept.scope == _scope(user) and now - kept.counted_at < max_age:
            return _loaded(kept.reminders), kept.counted_at
    # A kept card is read without a write lock; counting one keeps it (and a manager's count escalates
    # overdue complaints), so from here the request writes.
    begin_writing()
    found = registry.reminders_for(user, today)
    _upsert({"staff_id": user.id, "scope": _scope(user), "day": today, "counted_at": now,
             "reminders": _stored(found)})
    return found, now


# Written beside the work without being part of it: the card itself and the audit trail of a read.
_BOOKKEEPING = (ReminderCard, AuditEvent)


def _real_work(session) -> bool:
    return any(not isinstance(o, _BOOKKEEPING) for o in (*session.new, *session.dirty, *session.deleted))


def _note_writes(session, _context):
    """After a flush of real work, the request's staff member is to have their card counted again."""
    if has_request_context() and _real_work(session):
        session.info["reminder_card_stale"] = True


def _forget_before_commit(session):
    # Commit flushes what is still pending after this hook: look at that too.
    stale = session.info.pop("reminder_card_stale", False) or _real_work(session)
    if stale and has_request_context() and current_user.is_authenticated:
        session.execute(delete(ReminderCard).where(ReminderCard.staff_id == current_user.id))


def _clear(session, _transaction):
    if _transaction.parent is None:
        session.info.pop("reminder_card_stale", None)


def forget_after_own_writes() -> None:
    """Drop a staff member's kept card in the transaction of any request of theirs that writes."""
    if not event.contains(Session, "after_flush", _note_writes):
        event.listen(Session, "after_flush", _note_writes)
        event.listen(Session, "before_commit", _forget_before_commit)
        event.listen(Session, "after_transaction_end", _clear)
