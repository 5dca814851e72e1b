"""The managers package's reminder source: handovers waiting for the branch manager's review."""
from datetime import date

from flask import url_for

from blueprints.managers import services
from blueprints.reminders import registry
from blueprints.reminders.registry import ReminderRow


class HandoversToReview:
    """Handovers the user may review (移交待审核), the earliest effective date first."""

    key, title, severity, unit = "handovers_to_review", "客户移交待审核", "warning", "项"

    def _pending(self, user) -> list:
        # At most a branch's pending handovers (handovers_for caps the list): a short list, sorted here.
        return sorted(services.pending_for_review(user), key=lambda h: (h.effective_date, h.id))

    def count(self, user, today: date, cap: int | None = None) -> int:
        found = len(self._pending(user))
        return min(found, cap) if cap is not None else found

    def rows(self, user, today: date, offset: int, limit: int) -> list[ReminderRow]:
        return [ReminderRow("", "", handover.effective_date, f"{len(handover.items)} 户，{handover.effective_date} 生效",
                            href=url_for("managers.handover", reference=handover.reference),
                            label=f"客户移交 {handover.reference} 待审核")
                for handover in self._pending(user)[offset:offset + limit]]

    def for_customer(self, customer, today: date) -> ReminderRow | None:
        return None


HANDOVERS_TO_REVIEW = HandoversToReview()


def register() -> None:
    registry.register(HANDOVERS_TO_REVIEW)
