"""Showing a masked value in full (显示完整): who may, and the audit row every showing writes."""
from core import audit
from core.forms import BaseForm
from core.roles import ROLES_REVEALING


class RevealForm(BaseForm):
    """The explicit request to show one masked value in full: a POST carrying only the CSRF token."""


def may_reveal(user, field: str) -> bool:
    """Whether `user`'s role may show `field` (a key of core.roles.ROLES_REVEALING) in full."""
    return getattr(user, "role", None) in ROLES_REVEALING.get(field, ())


def record_reveal(customer_no: str, field: str, **context) -> None:
    """Audit that the current user was shown the customer's `field` in full: the field's name, never its value."""
    audit.record("customer.reveal", "customer", customer_no, field=field, **context)
