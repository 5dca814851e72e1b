"""Searches kept on the server under an opaque key, so that no typed personal value travels in a URL."""
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from blueprints.auth.models import Staff
from blueprints.search.models import KeptSearch
from core.extensions import db
from core.timeutil import utcnow

# A kept search lasts a working day: long enough for back, reload and paging, short enough that the
# table holds only today's searches (each staff member's older ones go when they search again).
KEPT_FOR = timedelta(hours=10)


def keep(user: Staff, scope: str, criteria: dict) -> str:
    """Keep `criteria` (encrypted) for `user` and return the key the results page's URL carries."""
    db.session.execute(delete(KeptSearch).where(KeptSearch.staff_id == user.id,
                                                KeptSearch.created_at < utcnow() - KEPT_FOR))
    key = secrets.token_urlsafe(16)
    db.session.add(KeptSearch(key=key, staff_id=user.id, scope=scope, criteria=criteria))
    db.session.flush()
    return key


def kept(user: Staff, scope: str, key: str | None) -> dict | None:
    """The criteria `user` kept under `key` for `scope`, or None (unknown, someone else's, or expired)."""
    if not key or len(key) > 32:
        return None
    found = db.session.scalar(select(KeptSearch).where(KeptSearch.key == key, KeptSearch.staff_id == user.id,
                                                       KeptSearch.scope == scope))
    if found is None or found.created_at < utcnow() - KEPT_FOR:
        return None
    return dict(found.criteria)


def forget_expired() -> int:
    """Delete every staff member's kept searches past KEPT_FOR (the daily housekeeping); how many went.

    Each search is also cleared when its owner searches again, but one who never does would leave what
    they typed (a name, an ID number, encrypted) on the server."""
    return db.session.execute(delete(KeptSearch).where(KeptSearch.created_at < utcnow() - KEPT_FOR)).rowcount
