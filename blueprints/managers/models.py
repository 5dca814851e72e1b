"""Assignments of customers to customer managers and brokers, and the handovers that move them."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.managers.rules import HandoverKind, HandoverStatus
from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class CustomerAssignment(db.Model):
    """One stretch of time in which a customer belongs to one customer manager or broker (服务关系).

    It holds from `effective_from` up to, not including, `effective_to`; the open one has no end.
    Visibility is read from these dates, so a handover takes effect on its day without any job running.
    """

    __tablename__ = "customer_assignment"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    effective_from: Mapped[date] = mapped_column(info=C1)
    effective_to: Mapped[date | None] = mapped_column(info=C1)
    reason: Mapped[str] = mapped_column(String(500), info=C2)
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handover.id"), info=C1)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class Handover(db.Model):
    """A handover (移交) of customers from one manager to successors: reason, effective date, reviewer."""

    __tablename__ = "handover"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    reference: Mapped[str] = mapped_column(String(20), unique=True, info=C1)
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    kind: Mapped[HandoverKind] = mapped_column(String(16), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    from_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    effective_date: Mapped[date] = mapped_column(info=C1)
    reason: Mapped[str] = mapped_column(String(500), info=C1)
    status: Mapped[HandoverStatus] = mapped_column(String(16), index=True, info=C1)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    decided_at: Mapped[datetime | None] = mapped_column(info=C1)
    decision_note: Mapped[str | None] = mapped_column(String(500), info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    items: Mapped[list["HandoverItem"]] = relationship(order_by="HandoverItem.id", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}


class HandoverItem(db.Model):
    """One customer of a handover and the successor who takes them over."""

    __tablename__ = "handover_item"
    __table_args__ = (UniqueConstraint("handover_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handover.id"), index=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    to_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
