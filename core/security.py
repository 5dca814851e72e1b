"""Login and role checks shared by every blueprint."""
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user

from core.roles import ROLES_SEEING_FULL_ID, Role

# Endpoints reachable without a session; everything else needs login.
# The reader API authenticates each post by the device's signature instead of a session.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "home.health", "reader.post_read"})


def roles_required(*roles: Role):
    """Allow the view only to staff holding one of `roles` (HQ admins are not implied)."""
    allowed = frozenset(roles)

    def decorator(view):
        view.allowed_roles = allowed

        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def any_staff(view):
    """Allow the view to every logged-in staff member, whatever the role (logout, a job's progress)."""
    return roles_required(*Role)(view)


def declared_roles(view) -> frozenset | None:
    """The roles a view admits, or None when it declares none (and so admits nobody)."""
    return getattr(view, "allowed_roles", None)


def refuse_undeclared_endpoint() -> None:
    """Refuse (403) a staff endpoint whose view declares no roles: a route added without them is unreachable.

    Runs after the login check. A request no route matched (endpoint None) goes on to its 404/405.
    """
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return
    if declared_roles(current_app.view_functions.get(endpoint)) is None:
        abort(403)


def sees_full_id(user) -> bool:
    return getattr(user, "role", None) in ROLES_SEEING_FULL_ID
