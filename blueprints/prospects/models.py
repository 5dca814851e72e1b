"""What the branch noted about a potential customer when it entered them: where they came from, notes."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedText
from core.extensions import db
from core.timeutil import utcnow

SOURCES = {
    "walk_in": "营业部到访",
    "phone": "电话咨询",
    "referral": "客户转介绍",
    "marketing": "营销活动",
    "online": "网络渠道",
    "other": "其他",
}


class ProspectEntry(db.Model):
    """How a potential customer came to be on record (登记潜在客户); the person is a Customer of kind potential."""

    __tablename__ = "prospect_entry"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True, info=C1)
    # The entry form's token: a second post of the same form finds the first one's record.
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    source: Mapped[str] = mapped_column(String(16), info=C1)
    notes: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)
