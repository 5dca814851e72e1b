"""Login and role checks shared by every blueprint."""
from functools import wraps

from flask import abort
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


def sees_full_id(user) -> bool:
    return getattr(user, "role", None) in ROLES_SEEING_FULL_ID
