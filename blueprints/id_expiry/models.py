"""One ID-expiry restriction of a customer: when and why, which accounts it moved, and when it was lifted."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.timeutil import utcnow


class IdExpiryRestriction(db.Model):
    """证件过期限制: the customer's live accounts restricted until a valid document is recorded."""

    __tablename__ = "id_expiry_restriction"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # Set while the restriction holds: one open restriction per customer, kept by the database.
    open_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), unique=True)
    id_document_id: Mapped[int] = mapped_column(ForeignKey("customer_id_document.id"))
    valid_to: Mapped[date] = mapped_column(Date)
    grace_days: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    restricted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What each account was before it was restricted: {"fund": {id: status}, "securities": {id: status}}.
    previous_statuses: Mapped[dict] = mapped_column(JSON, default=dict)
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    lift_reason: Mapped[str | None] = mapped_column(String(200))

    @property
    def is_open(self) -> bool:
        return self.lifted_at is None
