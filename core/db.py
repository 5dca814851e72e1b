"""Database engine tuning: SQLite in WAL mode with immediate write transactions and lock-free reads, durable commits.

Records here have legal weight: an acknowledged save must survive a power cut. SQLite runs with
synchronous=FULL (NORMAL in WAL mode may lose the last commits on power loss), read back on every
new connection; PostgreSQL must run with fsync and synchronous_commit on, checked on every new
connection and once at start-up (see `check_durability`).
"""
import logging

from flask import current_app, g, has_request_context, request
from flask.globals import request_ctx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


class DatabaseNotDurable(RuntimeError):
    """The database would acknowledge commits it can lose; the message says which setting to change."""


# What SQLite's PRAGMA synchronous answers for FULL.
SQLITE_SYNCHRONOUS_FULL = 2
# PostgreSQL settings that must be on for a commit to be on disk when it is acknowledged. synchronous_commit
# may be "on", "remote_write", "remote_apply" or "local" (all flush the local WAL first); only "off" loses commits.
PG_DURABLE = {"fsync": {"on"}, "synchronous_commit": {"on", "local", "remote_write", "remote_apply"}}


def configure_engine(engine: Engine, busy_timeout_ms: int, require_durable: bool = True) -> None:
    """Make SQLite behave under concurrent writers and commit durably; on PostgreSQL check durability.

    `require_durable` (off only in the tests, whose throw-away PostgreSQL cluster runs without fsync)
    makes every new PostgreSQL connection check fsync and synchronous_commit; SQLite's synchronous=FULL
    is set and checked whatever it says.
    """
    if engine.dialect.name == "postgresql":
        if require_durable and not event.contains(engine, "connect", _check_postgresql_connection):
            event.listen(engine, "connect", _check_postgresql_connection)
        return
    if engine.dialect.name != "sqlite":
        return
    _private_database_file(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: each commit is synced to disk before it returns. NORMAL (the WAL default) may lose the
        # last commits, already acknowledged to the user, on a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        try:
            _assert_sqlite_durable(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A deferred transaction that later writes fails at once with "database is
        # locked" when another writer got in first; IMMEDIATE takes the write lock up
        # front, so a second writer waits for busy_timeout instead. A read (a GET whose
        # audit rows are written after it, see core.audit) takes no lock at all: readers
        # never queue behind each other or behind a writer.
        connection.exec_driver_sql("BEGIN" if is_read() else "BEGIN IMMEDIATE")
    if not event.contains(Session, "before_flush", _reads_do_not_write):
        event.listen(Session, "before_flush", _reads_do_not_write)


def _assert_sqlite_durable(cursor) -> None:
    """Read the pragmas back: a connection that is not in WAL with synchronous=FULL is never handed out."""
    synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
    journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if synchronous != SQLITE_SYNCHRONOUS_FULL:
        raise DatabaseNotDurable(f"SQLite connection has synchronous={synchronous}, not FULL (2): refused")
    if journal.lower() not in ("wal", "memory"):  # "memory": an in-memory database, nothing to lose on disk
        raise DatabaseNotDurable(f"SQLite connection has journal_mode={journal}, not WAL: refused")


def postgresql_durability(connection) -> dict[str, str]:
    """The PostgreSQL settings that decide whether a commit is on disk when acknowledged (DB-API connection)."""
    cursor = connection.cursor()
    try:
        found = {}
        for name in PG_DURABLE:
            cursor.execute(f"SHOW {name}")
            found[name] = str(cursor.fetchone()[0]).lower()
        return found
    finally:
        cursor.close()
        connection.rollback()  # SHOW opened a transaction; the connection is handed out without one


def durability_problems(settings: dict[str, str]) -> list[str]:
    """What is wrong with these PostgreSQL settings, in words an operator acts on; empty when durable."""
    return [f"{name}={settings.get(name)!s} (must be {' or '.join(sorted(allowed))})"
            for name, allowed in PG_DURABLE.items() if settings.get(name) not in allowed]


def _check_postgresql_connection(dbapi_connection, _record):
    problems = durability_problems(postgresql_durability(dbapi_connection))
    if problems:
        # The connection started a transaction for SHOW; it is discarded with the refusal.
        raise DatabaseNotDurable(
            "refusing a PostgreSQL connection that may lose acknowledged commits: " + ", ".join(problems)
            + " — set them in postgresql.conf and for the app's role and database (ALTER ROLE/DATABASE ... RESET)")


def check_durability(engine: Engine) -> None:
    """At start-up: refuse to run on a PostgreSQL server that may lose acknowledged commits.

    Raises DatabaseNotDurable naming the settings. A server that cannot be reached now is left to the
    check every new connection makes (the app starts; its requests wait for the database).
    """
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy.exc import OperationalError

    try:
        raw = engine.raw_connection()
    except OperationalError as error:
        logging.getLogger(__name__).warning("database not reachable at start-up, durability checked on connect: %s",
                                            error.orig)
        return
    except DatabaseNotDurable:
        raise
    try:
        problems = durability_problems(postgresql_durability(raw.driver_connection))
    finally:
        raw.close()
    if problems:
        raise DatabaseNotDurable("PostgreSQL may lose acknowledged commits: " + ", ".join(problems))


# SQLite's words for a database another connection holds, or a file it cannot reach for a moment.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database schema is locked", "busy",
                     "unable to open database file", "disk i/o error")


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is busy or out of reach for a moment (worth trying again).

    SQLite: locked past busy_timeout, or its file unreachable. PostgreSQL: any OperationalError (refused,
    terminated, restarting, a serialization failure, a statement timeout) or a connection SQLAlchemy
    found dead. A missing table or a bad statement is a defect, not this.
    """
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        words = str(error.orig).lower()
        return any(transient in words for transient in _SQLITE_TRANSIENT)
    return True


def _reads_do_not_write(session, _context, _instances):
    """A read that writes anyway (its view not marked writes_on_read) fails the tests and is logged."""
    if not is_read() or session.get_bind().dialect.name != "sqlite":
        return
    written = {type(o).__name__ for o in (*session.new, *session.dirty, *session.deleted)
               if o not in session.dirty or session.is_modified(o)}
    if not written:
        return
    message = (f"{request.endpoint} writes {', '.join(sorted(written))} in a GET: mark the view with "
               "core.db.writes_on_read, or on SQLite it may meet a newer database and fail")
    if current_app.testing:
        raise RuntimeError(message)
    logging.getLogger(__name__).warning(message)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes_on_read(view):
    """Mark a GET view that writes more than its audit rows (a lending-register entry, an escalation):
    on SQLite its transaction takes the write lock up front, as a POST's does."""
    view.writes_on_read = True
    return view


def begin_writing() -> None:
    """Turn a read into a write from here on: a GET that finds it must write after all (a kept result
    to count again) ends its read transaction, which wrote nothing, and goes on in one that writes
    (on SQLite, BEGIN IMMEDIATE). Reads that need not write never take the write lock. Loaded objects
    are expired and load again when used."""
    if not is_read():
        return
    from core.extensions import db

    if _has_written(db.session()):
        raise RuntimeError("a read wrote before it began writing")
    db.session.rollback()
    g.write_phase = True


def _has_written(session) -> bool:
    """Whether the session holds or has flushed changes in its current transaction (see track_writes)."""
    return bool(session.new or session.dirty or session.deleted or session.info.get("wrote")
                or session.info.get("audit_pending"))  # audit rows recorded, written at commit (core.audit)


def is_read() -> bool:
    """Whether this is a read: a GET (HEAD, OPTIONS) whose view writes nothing but its audit rows, before
    those rows are written (core.audit keeps them until the read transaction has ended)."""
    if not has_request_context() or request.method not in READ_METHODS or g.get("write_phase"):
        return False
    if request.url_rule is None and request.routing_exception is None and request_ctx.url_adapter is not None:
        # Flask opens the session (a query) before it matches the URL: match it now to know the view.
        # Matching again later, as Flask then does, gives the same rule.
        request_ctx.match_request()
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "writes_on_read", False)


def _private_database_file(path: str | None) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask); -wal and -shm take its mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    import os

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
    # An existing file is never opened here: closing any descriptor of a SQLite file drops the
    # POSIX locks this process's connections hold on it. chmod is enough.
    for name in (path, f"{path}-wal", f"{path}-shm"):  # left by an older version with the umask's mode
        if os.path.exists(name) and os.stat(name).st_mode & 0o777 != 0o600:
            os.chmod(name, 0o600)


def sqlite_url_for(instance_path: str) -> str:
    """Return the default SQLite URL, a file under the instance folder."""
    return f"sqlite:///{instance_path}/kyc.sqlite3"


def _wrote(session, _context):
    session.info["wrote"] = True


def _ended(session, transaction):
    if transaction.parent is None:
        session.info.pop("wrote", None)


def track_writes() -> None:
    """Mark a session that has flushed anything in its current transaction (see release_for_external_call)."""
    if not event.contains(Session, "after_flush", _wrote):
        event.listen(Session, "after_flush", _wrote)
        event.listen(Session, "after_transaction_end", _ended)


def release_for_external_call(session) -> None:
    """End the request's read-only transaction before a call to an external system.

    On SQLite every transaction takes the write lock up front (BEGIN IMMEDIATE), and the built-in
    simulators keep their records in the same file, as the remote side commits on its own: a
    request that still held its transaction would wait on itself. Nothing is lost by ending it,
    which is checked: a request that already wrote must make its external call first.
    """
    session = session() if callable(session) else session  # the request's session behind a scoped_session
    if _has_written(session):
        raise RuntimeError("call external systems before writing in the request")
    if session.in_transaction():
        session.rollback()


def keep_refusal() -> None:
    """Keep what this request wrote although it answers 4xx.

    A refused request writes nothing (app.py commits only a success), except the record of the refusal
    itself: a failed login counted, the lock it brings, their audit rows. The caller writes only those.
    """
    if has_request_context():
        g.keep_refusal = True


def commits_response(status_code: int) -> bool:
    """Whether the request's work is committed when it answers with this status."""
    return status_code < 400 or bool(g.get("keep_refusal"))
