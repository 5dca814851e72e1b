"""Cross-cutting records: the audit trail of every read and write of customer data."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class AuditEvent(db.Model):
    """One read or write of customer data, or a security event (login, lockout)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True, info=C1)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    # Snapshot of the actor's username so the trail survives renames and failed logins.
    actor_name: Mapped[str] = mapped_column(String(64), info=C1)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), info=C1)
    action: Mapped[str] = mapped_column(String(64), info=C1)
    object_type: Mapped[str | None] = mapped_column(String(32), info=C1)
    object_id: Mapped[str | None] = mapped_column(String(64), info=C1)
    ip: Mapped[str | None] = mapped_column(String(64), info=C2)
    # Never C2/C3 values here: field names and outcomes only.
    detail: Mapped[dict] = mapped_column(JSON, default=dict, info=C1)
    # The hash chain (core.audit): the row's place, the previous row's hash, and this row's HMAC over
    # its own fields and that previous hash. An edit, a deletion or a reordering breaks it.
    seq: Mapped[int] = mapped_column(unique=True, info=C1)
    prev_hash: Mapped[str] = mapped_column(String(64), info=C1)
    hash: Mapped[str] = mapped_column(String(64), info=C1)

    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        # The audit trail page (blueprints/audit_trail): a branch's, a user's or an object's entries, newest first.
        Index("ix_audit_event_branch_at", "branch_id", "at", "id"),
        Index("ix_audit_event_actor_at", "actor_name", "at", "id"),
        Index("ix_audit_event_object_at", "object_id", "at", "id"),
    )


class RequestCounter(db.Model):
    """How many requests of one kind a source made in one fixed window (core.ratelimit), shared by every worker."""

    __tablename__ = "request_counter"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True, info=C1)
    # A keyed hash of the source (its address), never the address itself.
    source: Mapped[str] = mapped_column(String(64), primary_key=True, info=C1)
    window_start: Mapped[datetime] = mapped_column(primary_key=True, info=C1)
    count: Mapped[int] = mapped_column(default=0, info=C1)
