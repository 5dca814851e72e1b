"""Record audit events in an append-only hash chain, sealed as the transaction that writes them commits.

Each row carries its place in the chain (`seq`), the previous row's hash, and its own hash: an HMAC-SHA256,
keyed by a key derived from the app's keys (core.crypto.Keyring.audit_chain_key, never stored in the
database), over a canonical serialisation of the row's fields and the previous hash. Whoever can edit the
table cannot recompute a plain hash's chain without it. `verify_chain` (`flask audit-verify`) names the
first entry that was edited, is missing or is out of order.

Rows are appended when the transaction that recorded them commits (a read's: in a short transaction of its
own after the read, see write_after_read), jobs' and commands' alike. Appends never fork the chain: on
SQLite every writer holds the database's write lock (BEGIN IMMEDIATE, core.db); on PostgreSQL an append
takes a transaction-level advisory lock, at the very end of the transaction, so it is held only for the
commit. `seq` is unique besides.
"""
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from core.db import begin_writing, is_read, keep_refusal
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import utcnow

GENESIS = "0" * 64  # the "previous hash" of the first entry
# The advisory lock (any fixed 64-bit number) that serialises appends on PostgreSQL.
CHAIN_LOCK = 0x6B79_635F_6175_6474
_PENDING = "audit_pending"


def _storable(text: str) -> str:
    """A value taken from a URL or a form as text any database keeps (PostgreSQL refuses NUL in text)."""
    return text.replace("\x00", "\\x00")


def record(action: str, object_type: str | None = None, object_id=None, actor=None, **detail) -> AuditEvent:
    """Add an audit event; it commits with the work it describes (a read's, right after it)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    name = detail.pop("actor_name", None) or getattr(actor, "username", "-")
    event_ = AuditEvent(
        at=utcnow(),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else _storable(str(object_id))[:64],
        actor_id=getattr(actor, "id", None),
        actor_name=_storable(str(name))[:64],
        branch_id=getattr(actor, "branch_id", None),
        ip=request.remote_addr if has_request_context() else None,
        # As the database will give it back (tuples as lists, keys as strings), which the hash covers.
        detail=json.loads(json.dumps(detail, default=str)),
    )
    if has_request_context():
        g.audit_recorded = True
    if is_read():
        # A read's rows wait for its read transaction to end (write_after_read): on SQLite, a read
        # holds no lock while the page is built.
        g.setdefault("audit_after_read", []).append(event_)
    else:
        _pending(db.session()).append(event_)
    return event_


def _pending(session) -> list[AuditEvent]:
    # Held in the session until its transaction commits (then appended) or ends otherwise (then dropped).
    # A transaction is begun (no connection yet) so that a rollback before any query drops them too.
    if not session.in_transaction():
        session.begin()
    return session.info.setdefault(_PENDING, [])


def write_after_read() -> None:
    """Write the audit rows a read kept back, in a short transaction of their own."""
    events = g.pop("audit_after_read", None) if has_request_context() else None
    if events:
        g.write_phase = True
        _pending(db.session()).extend(events)
        db.session.commit()


# GET endpoints that show no customer data: the login page, health, static files, and the progress polls a
# page asks every second or two (statuses only; the page that polls was itself audited). Every other GET
# a staff member makes is audited, by its own record() or else by record_unrecorded_read.
UNAUDITED_READS = frozenset({
    "static", "home.health", "auth.login",
    "jobs.status", "changes.progress", "closure.steps", "exceptions.status", "grading.import_status",
    "archive.export_status",
})
# Answers that refuse a request (CSRF's 400 among them): each is an access.denied row.
DENIED_STATUSES = frozenset({400, 401, 403, 404, 405, 429})
# Anonymous refusals are counted per source address; only so many a minute become audit rows.
DENIAL_WINDOW = timedelta(minutes=1)
ANONYMOUS_DENIALS_AUDITED = (10, 200)  # per source, in all


def _object_in_url() -> tuple[str | None, str | None]:
    """The object a URL names (its first argument: a customer number, a reference, an id), for the trail."""
    name, value = next(iter((request.view_args or {}).items()), (None, None))
    if name is None:
        return None, None
    kind = name.removesuffix("_id").removesuffix("_no")
    if kind in ("reference", "key", "kind"):
        kind = f"{request.blueprint}.{kind}"
    return kind[:32], str(value)


def record_unrecorded_read(status: int) -> None:
    """Audit a staff member's successful GET that recorded nothing of its own: every read is in the trail."""
    if (request.method not in ("GET", "HEAD") or status >= 300 or request.endpoint is None
            or request.endpoint in UNAUDITED_READS or g.get("audit_recorded")):
        return
    object_type, object_id = _object_in_url()
    record("page.read", object_type, object_id, endpoint=request.endpoint)


def _denial(status: int, **extra) -> None:
    object_type, object_id = _object_in_url()
    record("access.denied", object_type, object_id, endpoint=request.endpoint, method=request.method,
           status=status, **extra)


def record_denied(status: int, public_endpoints=frozenset()) -> None:
    """Audit a logged-in staff member's refused request, in a transaction of its own (the request's was
    rolled back): who tried what, on which object, and the answer."""
    if request.endpoint is None or request.endpoint in public_endpoints:
        return
    g.write_phase = True
    _denial(status)
    db.session.commit()


def record_anonymous_denied(status: int, public_endpoints=frozenset()) -> None:
    """Count an anonymous request for a page that needs login; only the first few a minute per source
    (and in all) become audit rows, so that nobody can fill the table without logging in. The home page
    (where everyone starts) and the login's own pages (logging out, a session ending) are no attempts."""
    from core import ratelimit

    if (request.endpoint is None or request.endpoint in public_endpoints or request.endpoint == "home.index"
            or request.blueprint == "auth"):
        return
    begin_writing()
    keep_refusal()
    if ratelimit.within("anonymous.denied", request.remote_addr, DENIAL_WINDOW, *ANONYMOUS_DENIALS_AUDITED):
        _denial(status, actor_name="-anonymous-")


def has_pending(session) -> bool:
    """Whether the session holds audit events still to be written with its transaction."""
    return bool(session.info.get(_PENDING))


def canonical(entry: AuditEvent, seq: int | None = None) -> bytes:
    """The bytes an entry's hash covers: its fields and the previous entry's hash, in one fixed form."""
    fields = {
        "seq": entry.seq if seq is None else seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id, "actor_name": entry.actor_name, "branch_id": entry.branch_id, "ip": entry.ip,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "detail": entry.detail or {}, "prev_hash": entry.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(key: bytes, entry: AuditEvent, seq: int | None = None) -> str:
    return hmac.new(key, canonical(entry, seq), hashlib.sha256).hexdigest()


def chain_key() -> bytes:
    from core.crypto import keyring

    return keyring().audit_chain_key


def append(session: Session, entries: list[AuditEvent], key: bytes | None = None) -> None:
    """Put entries at the end of the chain in this transaction, which must commit soon (it holds the lock)."""
    key = key or chain_key()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, previous = (head.seq, head.hash) if head else (0, GENESIS)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, previous
        entry.hash = previous = entry_hash(key, entry)
        session.add(entry)


def _seal_before_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint's commit: the chain is appended once, by the outermost one
    pending = session.info.pop(_PENDING, None)
    if pending:
        append(session, pending)


def _drop_pending(session, transaction):
    if transaction.parent is None:
        session.info.pop(_PENDING, None)  # rolled back: what it recorded happened in a transaction undone


def seal_on_commit() -> None:
    """Append each transaction's recorded events to the chain as it commits (create_app calls this)."""
    if not event.contains(Session, "before_commit", _seal_before_commit):
        event.listen(Session, "before_commit", _seal_before_commit)
        event.listen(Session, "after_transaction_end", _drop_pending)


@dataclass
class Verdict:
    """What audit-verify found: every entry intact, or the first broken one and what is wrong with it."""

    count: int
    head: AuditEvent | None = None
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str | None = None  # "edited", "missing", "reordered"
    explanation: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, key: bytes | None = None) -> Verdict:
    """Walk the chain in order of seq and report the first entry that is not as it was appended."""
    key = key or chain_key()
    expected_seq, previous, count, head = 1, GENESIS, 0, None
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)).scalars()
    for entry in rows:
        if entry.seq != expected_seq:
            missing = f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}–{entry.seq - 1}"
            return Verdict(count, head, expected_seq, None, "missing",
                           f"entry seq {missing} is missing (deleted); the next one present is seq {entry.seq} (id {entry.id})")
        if not hmac.compare_digest(entry_hash(key, entry), entry.hash or ""):
            written_as = _place_written_at(session, key, entry)
            if written_as is not None:
                return Verdict(count, head, entry.seq, entry.id, "reordered",
                               f"entry seq {entry.seq} (id {entry.id}) was written as seq {written_as}")
            if entry.prev_hash != previous and not _exists(session, entry.prev_hash):
                return Verdict(count, head, entry.seq, entry.id, "missing",
                               f"the entry before seq {entry.seq} (id {entry.id}) is gone and the ones after renumbered")
            return Verdict(count, head, entry.seq, entry.id, "edited",
                           f"entry seq {entry.seq} (id {entry.id}) no longer matches its hash: it was changed")
        if entry.prev_hash != previous:
            if _exists(session, entry.prev_hash):
                return Verdict(count, head, entry.seq, entry.id, "reordered",
                               f"entry seq {entry.seq} (id {entry.id}) follows another entry than the one it was chained to")
            return Verdict(count, head, entry.seq - 1, None, "edited",
                           f"entry seq {entry.seq - 1} is not the one entry seq {entry.seq} (id {entry.id}) was chained to")
        previous, expected_seq, count, head = entry.hash, expected_seq + 1, count + 1, entry
    return Verdict(count, head)


def _exists(session, hash_: str | None) -> bool:
    return hash_ is not None and session.scalar(select(AuditEvent.id).where(AuditEvent.hash == hash_).limit(1)) is not None


def _place_written_at(session, key: bytes, entry: AuditEvent) -> int | None:
    """The seq an intact entry was written with, if it now stands elsewhere in the chain."""
    successor = session.scalar(select(AuditEvent.seq).where(AuditEvent.prev_hash == entry.hash).limit(1))
    predecessor = session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == entry.prev_hash).limit(1))
    candidates = {s for s in (successor and successor - 1, predecessor and predecessor + 1, 1) if s}
    for seq in sorted(candidates - {entry.seq}):
        if hmac.compare_digest(entry_hash(key, entry, seq), entry.hash or ""):
            return seq
    return None
