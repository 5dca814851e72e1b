"""One ID-expiry restriction of a customer: when and why, which accounts it moved, and when it was lifted."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class IdExpiryRestriction(db.Model):
    """证件过期限制: the customer's live accounts restricted until a valid document is recorded."""

    __tablename__ = "id_expiry_restriction"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    # Set while the restriction holds: one open restriction per customer, kept by the database.
    open_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), unique=True, info=C1)
    id_document_id: Mapped[int] = mapped_column(ForeignKey("customer_id_document.id"), info=C1)
    valid_to: Mapped[date] = mapped_column(Date, info=C1)
    grace_days: Mapped[int] = mapped_column(info=C1)
    reason: Mapped[str] = mapped_column(String(200), info=C1)
    restricted_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # What each account was before it was restricted: {"fund": {id: status}, "securities": {id: status}}.
    previous_statuses: Mapped[dict] = mapped_column(JSON, default=dict, info=C1)
    lifted_at: Mapped[datetime | None] = mapped_column(info=C1)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    lift_reason: Mapped[str | None] = mapped_column(String(200), info=C2)

    @property
    def is_open(self) -> bool:
        return self.lifted_at is None
