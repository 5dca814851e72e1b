"""What staff administration keeps: the history of 第十七条 facts, and HQ's grants (总部赋权) with theirs."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1
from core.extensions import db
from core.timeutil import utcnow


class StaffFactChange(db.Model):
    """One change of a staff member's 第十七条 fact (从业资格, 正式员工, 营销人员, 见证培训), with its reason."""

    __tablename__ = "staff_fact_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    field: Mapped[str] = mapped_column(String(40), info=C1)
    # Facts of a member of staff, not of a customer: C1 like the staff columns they copy (staff.qualification_no).
    old_value: Mapped[str | None] = mapped_column(String(64), info=C1)
    new_value: Mapped[str | None] = mapped_column(String(64), info=C1)
    reason: Mapped[str] = mapped_column(String(200), info=C1)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class BusinessGrant(db.Model):
    """HQ's grant (总部赋权) of one business to a branch, or to one role in it (role "*": the whole branch).

    Withdrawing keeps the row (active false); every change asks the branch to review (复核) it again.
    """

    __tablename__ = "business_grant"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    business: Mapped[str] = mapped_column(String(32), info=C1)
    role: Mapped[str] = mapped_column(String(20), default="*", info=C1)
    active: Mapped[bool] = mapped_column(default=True, info=C1)
    reason: Mapped[str] = mapped_column(String(200), info=C1)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    reviewed_at: Mapped[datetime | None] = mapped_column(info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    __table_args__ = (UniqueConstraint("branch_id", "business", "role"),)


class BusinessGrantChange(db.Model):
    """One giving or withdrawing of a grant, or the branch's review of it."""

    __tablename__ = "business_grant_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    grant_id: Mapped[int] = mapped_column(ForeignKey("business_grant.id", ondelete="CASCADE"), index=True, info=C1)
    action: Mapped[str] = mapped_column(String(16), info=C1)  # given, withdrawn, reviewed
    reason: Mapped[str | None] = mapped_column(String(200), info=C1)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
