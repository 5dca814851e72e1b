"""A change business and its status history."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import utcnow


class CustomerChange(db.Model):
    """One business changing a customer's information (资料变更), from submission to every system's answer."""

    __tablename__ = "customer_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    # Shown to staff, printed on the slip and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True, info=C1)
    # Sent by the form, so a double submit records one change.
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    kind: Mapped[str] = mapped_column(String(20), index=True, info=C1)
    status: Mapped[str] = mapped_column(String(16), index=True, info=C1)
    # The profile version the clerk saw: a change entered against an older one is refused.
    base_version: Mapped[int] = mapped_column(info=C1)
    before: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    after: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    # The systems the clerk chose to sync: csdc, shareholder, funds.
    systems: Mapped[list] = mapped_column(JSON, info=C1)
    # What China Clearing's 一码通 query answered at entry (None: not queried).
    csdc_found: Mapped[bool | None] = mapped_column(info=C1)
    unified_account_no: Mapped[str | None] = mapped_column(String(16), info=C1)
    # The re-verification of identity for a key change (第十二条): the public-security check's answer.
    verification: Mapped[dict | None] = mapped_column(JSON, info=C2)
    # The public-security office's change certificate (变更证明), scanned.
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    certificate_mime: Mapped[str | None] = mapped_column(String(40), info=C1)
    # The confirmation slip printed for the customer's signature, and its signed scan.
    slip_sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    signed_slip_sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    signed_slip_mime: Mapped[str | None] = mapped_column(String(40), info=C1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    submitted_at: Mapped[datetime | None] = mapped_column(info=C1)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    decided_at: Mapped[datetime | None] = mapped_column(info=C1)
    reject_reason: Mapped[str | None] = mapped_column(String(500), info=C2)
    # The profile version this change produced, once applied.
    applied_version: Mapped[int | None] = mapped_column(info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    __mapper_args__ = {"version_id_col": version}


class ChangeStatusChange(db.Model):
    """One move of a change business: who, when, from, to, and why."""

    __tablename__ = "customer_change_status_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    change_id: Mapped[int] = mapped_column(ForeignKey("customer_change.id"), index=True, info=C1)
    from_status: Mapped[str | None] = mapped_column(String(16), info=C1)
    to_status: Mapped[str] = mapped_column(String(16), info=C1)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reason: Mapped[str | None] = mapped_column(String(500), info=C2)
