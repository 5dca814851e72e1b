"""Record audit events in the request's transaction."""
from flask import has_request_context, request
from flask_login import current_user

from core.extensions import db
from core.models import AuditEvent


def record(action: str, object_type: str | None = None, object_id=None, actor=None, **detail) -> AuditEvent:
    """Add an audit event; it commits with the work it describes."""
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
    db.session.add(event)
    return event
