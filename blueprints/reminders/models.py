"""The home page's reminder card as it was last counted for one staff member (see blueprints.reminders.card)."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto import EncryptedJSON
from core.extensions import db


class ReminderCard(db.Model):
    """One staff member's card: every source's count and first rows, for one business day and one scope.

    The rows name customers, so the whole card is stored encrypted. `scope` is what the staff member
    could see when it was counted (role, branch, all branches): a change of either makes it stale.
    """

    __tablename__ = "reminder_card"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    day: Mapped[date]
    counted_at: Mapped[datetime]
    reminders: Mapped[list] = mapped_column(EncryptedJSON)
