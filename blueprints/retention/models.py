"""Legal holds (法律保全) on a customer's file, and the record of each purge."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class LegalHold(db.Model):
    """A hold that keeps a customer's file past its retention term (litigation, an investigation, a regulator).

    Placed and lifted by HQ or an archivist, each with a reason; a lifted hold stays on record.
    """

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    # Free text about the customer's case (a court's file number, an authority's letter): personal.
    reason: Mapped[str] = mapped_column(EncryptedText, info=C2)  # may name the customer's case: encrypted
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    lifted_at: Mapped[datetime | None] = mapped_column(info=C1)
    lift_reason: Mapped[str | None] = mapped_column(EncryptedText, info=C2)

    __table_args__ = (
        # One standing hold per customer: of two placed at once, the second is refused.
        Index("uq_legal_hold_standing", "customer_id", unique=True,
              sqlite_where=text("lifted_at IS NULL"), postgresql_where=text("lifted_at IS NULL")),
    )


class RetentionPurge(db.Model):
    """A customer whose personal data was erased when its retention term ended: when, by which run, what went."""

    __tablename__ = "retention_purge"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True, info=C1)
    due_on: Mapped[date] = mapped_column(Date, info=C1)
    cutoff: Mapped[date] = mapped_column(Date, info=C1)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    run_by: Mapped[str] = mapped_column(String(64), info=C1)
    # How many values and files went, by table (no values themselves).
    erased: Mapped[dict] = mapped_column(JSON, default=dict, info=C1)
