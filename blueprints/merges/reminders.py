"""The merges package's reminder source: merges waiting for a reviewer (客户合并待复核)."""
from datetime import date

from flask import url_for

from blueprints.merges import services
from blueprints.merges.models import MergeStatus
from blueprints.reminders import registry
from blueprints.reminders.registry import ReminderRow
from core.roles import Role
from core.timeutil import to_beijing


class MergesToReview:
    """Merges the user may decide, the oldest first."""

    key, title, severity, unit = "merges_to_review", "客户合并待复核", "warning", "项"

    def _pending(self, user) -> list:
        if user.role != Role.REVIEWER:
            return []
        # A branch's pending merges are few (merges_for caps the list): sorted and filtered here.
        rows = services.merges_for(user, MergeStatus.PENDING)
        return sorted((m for m in rows if services.can_decide(m, user)), key=lambda m: (m.requested_at, m.id))

    def count(self, user, today: date, cap: int | None = None) -> int:
        found = len(self._pending(user))
        return min(found, cap) if cap is not None else found

    def rows(self, user, today: date, offset: int, limit: int) -> list[ReminderRow]:
        return [ReminderRow("", "", to_beijing(merge.requested_at).date(), "同一人的两份客户档案待合并",
                            href=url_for("merges.detail", reference=merge.reference),
                            label=f"客户合并 {merge.reference} 待复核")
                for merge in self._pending(user)[offset:offset + limit]]

    def for_customer(self, customer, today: date) -> ReminderRow | None:
        return None


MERGES_TO_REVIEW = MergesToReview()


def register() -> None:
    registry.register(MERGES_TO_REVIEW)
