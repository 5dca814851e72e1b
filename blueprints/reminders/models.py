"""The home page's reminder card as it was last counted for one staff member (see blueprints.reminders.card)."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedJSON
from core.extensions import db


class ReminderCard(db.Model):
    """One staff member's card: every source's count and first rows, for one business day and one scope.

    The rows name customers, so the whole card is stored encrypted. `scope` is what the staff member
    could see when it was counted (role, branch, all branches): a change of either makes it stale.
    """

    __tablename__ = "reminder_card"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True, info=C1)
    scope: Mapped[str] = mapped_column(String(80), info=C1)
    day: Mapped[date] = mapped_column(info=C1)
    counted_at: Mapped[datetime] = mapped_column(info=C1)
    reminders: Mapped[list] = mapped_column(EncryptedJSON, info=C2)
