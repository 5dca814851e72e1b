"""Assignments of customers to customer managers and brokers, and the handovers that move them."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.managers.rules import HandoverKind, HandoverStatus
from core.extensions import db
from core.timeutil import utcnow


class CustomerAssignment(db.Model):
    """One stretch of time in which a customer belongs to one customer manager or broker (服务关系).

    It holds from `effective_from` up to, not including, `effective_to`; the open one has no end.
    Visibility is read from these dates, so a handover takes effect on its day without any job running.
    """

    __tablename__ = "customer_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    reason: Mapped[str] = mapped_column(String(500))
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handover.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handover(db.Model):
    """A handover (移交) of customers from one manager to successors: reason, effective date, reviewer."""

    __tablename__ = "handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    client_token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[HandoverKind] = mapped_column(String(16))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    from_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    effective_date: Mapped[date]
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[HandoverStatus] = mapped_column(String(16), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=1)

    items: Mapped[list["HandoverItem"]] = relationship(order_by="HandoverItem.id", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}


class HandoverItem(db.Model):
    """One customer of a handover and the successor who takes them over."""

    __tablename__ = "handover_item"
    __table_args__ = (UniqueConstraint("handover_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handover.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    to_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
