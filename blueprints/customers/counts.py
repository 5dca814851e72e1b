"""Customers per branch, kind, risk class and grade, kept in customer_count by every insert, change and delete.

Whatever path changes a customer's branch, lifecycle state, risk class or grade (enrolment,
change_kind, the approval copying the assessment, a recomputed grade, closure, a failed opening), the change goes
through the ORM flush, so it is counted there: the mapper events note each customer's old and
new key, and after the flush the net changes are added in one upsert per key,
`n = n + delta`, in key order (two transactions never wait on each other's rows crosswise).
An increment is never read-modify-write, so two concurrent updates of one branch's counts
both land. Rows written with Core statements bypass this: call add_rows() for them, or
recount() to rebuild the table.
"""
from collections import Counter

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from blueprints.customers.models import Customer, CustomerCount
from core.extensions import db

KEY_COLUMNS = ("branch_id", "kind", "risk_class", "risk_lowest", "grade")
PENDING = "customer_count_deltas"


def key_of(branch_id, kind, risk_class, risk_lowest, grade) -> tuple:
    """The customer_count key: an unassessed or ungraded customer counts under ""."""
    return int(branch_id), str(kind), risk_class or "", bool(risk_lowest), grade or ""


def _old_value(state, name: str):
    """The value the row held before this flush (loaded thanks to active_history)."""
    history = state.attrs[name].history
    return history.deleted[0] if history.deleted else (history.unchanged[0] if history.unchanged else None)


def _note(target, delta_old: bool | None, delta_new: bool) -> None:
    session = Session.object_session(target)
    if session is None:
        return
    pending = session.info.setdefault(PENDING, Counter())
    state = inspect(target)
    if delta_old:
        pending[key_of(*(_old_value(state, name) for name in KEY_COLUMNS))] -= 1
    if delta_new:
        pending[key_of(*(getattr(target, name) for name in KEY_COLUMNS))] += 1


@event.listens_for(Customer, "after_insert")
def _inserted(_mapper, _connection, target) -> None:
    _note(target, False, True)


@event.listens_for(Customer, "after_update")
def _updated(_mapper, _connection, target) -> None:
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in KEY_COLUMNS):
        _note(target, True, True)


@event.listens_for(Customer, "after_delete")
def _deleted(_mapper, _connection, target) -> None:
    _note(target, True, False)


def _upsert(connection, deltas: dict[tuple, int]) -> None:
    """Add each delta to its key's row (created at the delta if missing), in key order."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for key in sorted(deltas):
        delta = deltas[key]
        if not delta:
            continue
        statement = insert(CustomerCount).values(dict(zip(KEY_COLUMNS, key), n=delta))
        connection.execute(statement.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_={"n": CustomerCount.n + statement.excluded.n}))


@event.listens_for(Session, "after_flush")
def _apply(session, _flush_context) -> None:
    deltas = session.info.pop(PENDING, None)
    if deltas:
        _upsert(session.connection(), deltas)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session, _previous_transaction) -> None:
    # A flush that failed noted changes that never happened.
    session.info.pop(PENDING, None)


def add_rows(rows: list[dict]) -> None:
    """Count customer rows inserted with Core statements (bulk loads), which the ORM events do not see."""
    deltas = Counter(key_of(row["branch_id"], row.get("kind", "current"), row.get("risk_class"),
                            row.get("risk_lowest", False), row.get("grade")) for row in rows)
    _upsert(db.session.connection(), deltas)


def counted() -> dict[tuple, int]:
    """The customers per key, counted from the customer table now."""
    columns = [getattr(Customer, name) for name in KEY_COLUMNS]
    return {key_of(*key): n for *key, n in db.session.execute(select(*columns, func.count()).group_by(*columns))}


def kept() -> dict[tuple, int]:
    """The kept counts, rows at zero left out."""
    return {key_of(*(getattr(r, name) for name in KEY_COLUMNS)): r.n
            for r in db.session.scalars(select(CustomerCount)) if r.n}


def recount() -> dict[tuple, tuple[int, int]]:
    """Rebuild the kept counts from the customer table; return the keys that were wrong, (kept, counted) each."""
    actual, before = counted(), kept()
    wrong = {key: (before.get(key, 0), actual.get(key, 0)) for key in set(actual) | set(before)
             if before.get(key, 0) != actual.get(key, 0)}
    db.session.execute(delete(CustomerCount))
    if actual:
        db.session.execute(CustomerCount.__table__.insert(),
                           [dict(zip(KEY_COLUMNS, key), n=n) for key, n in sorted(actual.items())])
    return wrong
