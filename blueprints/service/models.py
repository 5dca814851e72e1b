"""Service records, complaints with their deadlines, extensions and files, and each record's history."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.service.rules import Channel, ServiceKind, ServiceStatus, Urgency
from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class ServiceRecord(db.Model):
    """One contact with a customer (咨询、投诉、建议、拜访、电话): who owns it, when to follow up, how it ended."""

    __tablename__ = "service_record"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    reference: Mapped[str] = mapped_column(String(20), unique=True, info=C1)
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    kind: Mapped[ServiceKind] = mapped_column(String(16), index=True, info=C1)
    status: Mapped[ServiceStatus] = mapped_column(String(16), index=True, info=C1)
    subject: Mapped[str] = mapped_column(String(100), info=C2)
    content: Mapped[str] = mapped_column(Text, info=C2)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    follow_up_on: Mapped[date | None] = mapped_column(info=C1)
    outcome: Mapped[str | None] = mapped_column(Text, info=C2)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    closed_at: Mapped[datetime | None] = mapped_column(info=C1)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    complaint: Mapped["Complaint | None"] = relationship(back_populates="record", lazy="joined", uselist=False)

    __mapper_args__ = {"version_id_col": version}


class Complaint(db.Model):
    """What a complaint adds to its service record: channel, category, urgency, handler, deadlines, feedback."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), unique=True, info=C1)
    channel: Mapped[Channel] = mapped_column(String(16), info=C1)
    case_no: Mapped[str | None] = mapped_column(String(40), info=C1)  # the 12386 platform's case number
    category: Mapped[str] = mapped_column(String(24), info=C1)
    urgency: Mapped[Urgency] = mapped_column(String(12), info=C1)
    received_on: Mapped[date] = mapped_column(info=C1)
    complained_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)  # 首办负责人
    handler_assigned_at: Mapped[datetime | None] = mapped_column(info=C1)
    first_contact_due: Mapped[date] = mapped_column(info=C1)
    first_contacted_at: Mapped[datetime | None] = mapped_column(info=C1)
    resolution_due: Mapped[date] = mapped_column(index=True, info=C1)
    extensions: Mapped[int] = mapped_column(default=0, info=C1)
    escalated_at: Mapped[datetime | None] = mapped_column(info=C1)
    feedback: Mapped[str | None] = mapped_column(String(16), info=C1)
    feedback_text: Mapped[str | None] = mapped_column(String(1000), info=C2)

    record: Mapped[ServiceRecord] = relationship(back_populates="complaint")


class ComplaintExtension(db.Model):
    """One extension of a complaint's resolution deadline, with its reason."""

    __tablename__ = "complaint_extension"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True, info=C1)
    reason: Mapped[str] = mapped_column(String(500), info=C2)
    from_due: Mapped[date] = mapped_column(info=C1)
    to_due: Mapped[date] = mapped_column(info=C1)
    by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class ComplaintFile(db.Model):
    """A file kept with a complaint (the customer's letter, the 12386 transfer form, evidence), by content hash."""

    __tablename__ = "complaint_file"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True, info=C1)
    sha256: Mapped[str] = mapped_column(String(64), info=C1)
    size: Mapped[int] = mapped_column(info=C1)
    mime: Mapped[str] = mapped_column(String(64), info=C1)
    filename: Mapped[str] = mapped_column(String(200), info=C2)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class ServiceEvent(db.Model):
    """One step in a service record's history (recorded, handler assigned, contacted, extended, escalated, closed)."""

    __tablename__ = "service_event"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_record.id"), index=True, info=C1)
    action: Mapped[str] = mapped_column(String(24), info=C1)
    note: Mapped[str | None] = mapped_column(String(1000), info=C2)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
