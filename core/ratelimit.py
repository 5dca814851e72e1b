"""Fixed-window request counters kept in the database, so that every worker process counts together."""
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.extensions import db
from core.models import RequestCounter
from core.timeutil import utcnow

_EPOCH = datetime(2000, 1, 1)
EVERYONE = "*"  # the source under which a scope's total is counted


def source_key(address: str | None) -> str:
    """A keyed hash of a client address: counters need to tell sources apart, not to know them."""
    from core.crypto import keyring

    return hmac.new(keyring().audit_chain_key, f"source:{address or '-'}".encode(), hashlib.sha256).hexdigest()


def window_of(moment: datetime, window: timedelta) -> datetime:
    """The start of the fixed window `moment` falls in."""
    seconds, elapsed = int(window.total_seconds()), int((moment - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


def hit(scope: str, source: str, window: timedelta, now: datetime | None = None) -> int:
    """Count one request of `scope` from `source` in the current window; return the window's count so far.

    Written in the caller's transaction, which must commit even when it refuses (core.db.keep_refusal).
    """
    now = now or utcnow()
    start = window_of(now, window)
    session = db.session
    dialect = session.connection().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RequestCounter).values(scope=scope, source=source, window_start=start, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "source", "window_start"], set_={"count": RequestCounter.count + 1},
    ).returning(RequestCounter.count)
    count = session.execute(statement).scalar_one()
    if count == 1:  # the first in a new window clears the scope's old windows
        session.execute(delete(RequestCounter).where(RequestCounter.scope == scope,
                                                     RequestCounter.window_start < start - window))
    return count


def within(scope: str, address: str | None, window: timedelta, per_source: int, in_all: int) -> bool:
    """Count a request from `address`; whether it is still within `per_source` for it and `in_all` for everyone."""
    mine = hit(scope, source_key(address), window)
    everyone = hit(scope, EVERYONE, window)
    return mine <= per_source and everyone <= in_all


def count(scope: str, source: str, window: timedelta, now: datetime | None = None) -> int:
    """How many requests of `scope` `source` made in the current window, without counting one more."""
    start = window_of(now or utcnow(), window)
    return db.session.scalar(select(RequestCounter.count).where(
        RequestCounter.scope == scope, RequestCounter.source == source, RequestCounter.window_start == start)) or 0
