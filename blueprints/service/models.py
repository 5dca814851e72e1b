"""Service records, complaints with their deadlines, extensions and files, and each record's history."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.service.rules import Channel, ServiceKind, ServiceStatus, Urgency
from core.extensions import db
from core.timeutil import utcnow


class ServiceRecord(db.Model):
    """One contact with a customer (咨询、投诉、建议、拜访、电话): who owns it, when to follow up, how it ended."""

    __tablename__ = "service_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    client_token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    kind: Mapped[ServiceKind] = mapped_column(String(16), index=True)
    status: Mapped[ServiceStatus] = mapped_column(String(16), index=True)
    subject: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    follow_up_on: Mapped[date | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    version: Mapped[int] = mapped_column(default=1)

    complaint: Mapped["Complaint | None"] = relationship(back_populates="record", lazy="joined", uselist=False)

    __mapper_args__ = {"version_id_col": version}


class Complaint(db.Model):
    """What a complaint adds to its service record: channel, category, urgency, handler, deadlines, feedback."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), unique=True)
    channel: Mapped[Channel] = mapped_column(String(16))
    case_no: Mapped[str | None] = mapped_column(String(40))  # the 12386 platform's case number
    category: Mapped[str] = mapped_column(String(24))
    urgency: Mapped[Urgency] = mapped_column(String(12))
    received_on: Mapped[date]
    complained_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)  # 首办负责人
    handler_assigned_at: Mapped[datetime | None]
    first_contact_due: Mapped[date]
    first_contacted_at: Mapped[datetime | None]
    resolution_due: Mapped[date] = mapped_column(index=True)
    extensions: Mapped[int] = mapped_column(default=0)
    escalated_at: Mapped[datetime | None]
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_text: Mapped[str | None] = mapped_column(String(1000))

    record: Mapped[ServiceRecord] = relationship(back_populates="complaint")


class ComplaintExtension(db.Model):
    """One extension of a complaint's resolution deadline, with its reason."""

    __tablename__ = "complaint_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    from_due: Mapped[date]
    to_due: Mapped[date]
    by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplaintFile(db.Model):
    """A file kept with a complaint (the customer's letter, the 12386 transfer form, evidence), by content hash."""

    __tablename__ = "complaint_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceEvent(db.Model):
    """One step in a service record's history (recorded, handler assigned, contacted, extended, escalated, closed)."""

    __tablename__ = "service_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(String(1000))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
