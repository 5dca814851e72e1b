"""Pure rules of the ID-expiry restriction: when it starts, and which businesses it stops."""
from datetime import date, timedelta

DEFAULT_GRACE_DAYS = 30


def restriction_due(valid_to: date | None, today: date, grace_days: int) -> bool:
    """Whether a document valid until `valid_to` has been expired for longer than the grace period.

    Expired on `valid_to + 1`; restricted from the day after the grace period's last day.
    """
    return valid_to is not None and (today - valid_to).days > grace_days


def latest_valid_to_restricted(today: date, grace_days: int) -> date:
    """The last valid_to that restricts today (every earlier one does too): a range an index answers."""
    return today - timedelta(days=grace_days + 1)


def document_valid(valid_to: date | None, today: date) -> bool:
    return valid_to is None or valid_to >= today
