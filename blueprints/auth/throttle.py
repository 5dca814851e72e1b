"""The login throttle's counts in the database, shared by every app process (rules in blueprints.auth.rules)."""
import hmac
from datetime import datetime

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from blueprints.auth.models import LoginThrottle
from blueprints.auth.rules import RULES, ThrottleRule, delay_after
from core import crypto
from core.extensions import db


def key_for(rule: ThrottleRule, value: str) -> str:
    """A keyed hash of the username or address: equal values meet, the table names nobody."""
    return hmac.new(crypto.derived_key(b"login-throttle"), f"{rule.scope}:{value}".encode(), "sha256").hexdigest()


def keys_for(username: str, source: str | None) -> dict[str, str]:
    values = {"account": username, "source": source or "-"}
    return {rule.scope: key_for(rule, values[rule.scope]) for rule in RULES}


def blocked(keys: dict[str, str], now: datetime) -> tuple[str, datetime] | None:
    """The scope that refuses an attempt now and until when (the later one if both do), or None."""
    rows = db.session.execute(select(LoginThrottle.scope, LoginThrottle.blocked_until).where(
        LoginThrottle.blocked_until > now,
        ((LoginThrottle.scope == "account") & (LoginThrottle.key == keys["account"]))
        | ((LoginThrottle.scope == "source") & (LoginThrottle.key == keys["source"])))).all()
    if not rows:
        return None
    latest = max(rows, key=lambda row: row.blocked_until)
    return latest.scope, latest.blocked_until


def count_failure(keys: dict[str, str], now: datetime) -> dict[str, datetime]:
    """Count one failed check for both scopes; the scopes that now refuse attempts and until when."""
    _forget_old(now)
    blocks = {}
    for rule in RULES:
        failures = _count(rule, keys[rule.scope], now)
        delay = delay_after(failures, rule)
        until = now + delay if delay else None
        db.session.execute(update(LoginThrottle).where(LoginThrottle.scope == rule.scope,
                                                       LoginThrottle.key == keys[rule.scope])
                           .values(blocked_until=until).execution_options(synchronize_session=False))
        if until:
            blocks[rule.scope] = until
    return blocks


def forget_account(keys: dict[str, str]) -> None:
    """A successful check: the account's count starts again (the source's only decays)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.scope == "account",
                                                   LoginThrottle.key == keys["account"]))


def _count(rule: ThrottleRule, key: str, now: datetime) -> int:
    # One statement, so two processes counting at once both count (PostgreSQL locks the row it upserts).
    table = LoginThrottle.__table__
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(scope=rule.scope, key=key, failures=1, last_failure_at=now)
    statement = statement.on_conflict_do_update(index_elements=["scope", "key"], set_={
        "failures": case((table.c.last_failure_at < now - rule.forget_after, 1), else_=table.c.failures + 1),
        "last_failure_at": now,
    })
    db.session.execute(statement)
    return db.session.scalar(select(LoginThrottle.failures).where(LoginThrottle.scope == rule.scope,
                                                                  LoginThrottle.key == key))


def _forget_old(now: datetime) -> None:
    # Rows of typed usernames that exist nowhere and of passing addresses go once nothing counts them.
    oldest = now - max(rule.forget_after for rule in RULES)
    db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < oldest,
        LoginThrottle.blocked_until.is_(None) | (LoginThrottle.blocked_until < now)))
