"""Record audit events in the request's transaction (a read's: just after it)."""
from flask import g, has_request_context, request
from flask_login import current_user

from core.db import is_read
from core.extensions import db
from core.models import AuditEvent


def record(action: str, object_type: str | None = None, object_id=None, actor=None, **detail) -> AuditEvent:
    """Add an audit event; it commits with the work it describes (a read's, right after it)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        actor_id=getattr(actor, "id", None),
        actor_name=detail.pop("actor_name", None) or getattr(actor, "username", "-"),
        branch_id=getattr(actor, "branch_id", None),
        ip=request.remote_addr if has_request_context() else None,
        detail=detail,
    )
    if is_read():
        # A read's rows wait for its read transaction to end (write_after_read): on SQLite, a read
        # holds no lock while the page is built.
        g.setdefault("audit_after_read", []).append(event)
    else:
        db.session.add(event)
    return event


def write_after_read() -> None:
    """Write the audit rows a read kept back, in a short transaction of their own."""
    events = g.pop("audit_after_read", None) if has_request_context() else None
    if events:
        g.write_phase = True
        db.session.add_all(events)
        db.session.commit()
