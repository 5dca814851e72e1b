"""A change business and its status history."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import utcnow


class CustomerChange(db.Model):
    """One business changing a customer's information (资料变更), from submission to every system's answer."""

    __tablename__ = "customer_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown to staff, printed on the slip and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # Sent by the form, so a double submit records one change.
    client_token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # The profile version the clerk saw: a change entered against an older one is refused.
    base_version: Mapped[int]
    before: Mapped[dict] = mapped_column(EncryptedJSON)
    after: Mapped[dict] = mapped_column(EncryptedJSON)
    # The systems the clerk chose to sync: csdc, shareholder, funds.
    systems: Mapped[list] = mapped_column(JSON)
    # What China Clearing's 一码通 query answered at entry (None: not queried).
    csdc_found: Mapped[bool | None]
    unified_account_no: Mapped[str | None] = mapped_column(String(16))
    # The re-verification of identity for a key change (第十二条): the public-security check's answer.
    verification: Mapped[dict | None] = mapped_column(JSON)
    # The public-security office's change certificate (变更证明), scanned.
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate_mime: Mapped[str | None] = mapped_column(String(40))
    # The confirmation slip printed for the customer's signature, and its signed scan.
    slip_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_slip_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_slip_mime: Mapped[str | None] = mapped_column(String(40))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    # The profile version this change produced, once applied.
    applied_version: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ChangeStatusChange(db.Model):
    """One move of a change business: who, when, from, to, and why."""

    __tablename__ = "customer_change_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("customer_change.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(500))
