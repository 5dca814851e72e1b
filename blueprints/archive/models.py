"""The electronic archive (档案, 第十四条): scans, dossier versions, lending register, exports."""
import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer
from core.extensions import db
from core.timeutil import utcnow


class ScanType(enum.StrEnum):
    ID_FRONT = "id_front"
    ID_BACK = "id_back"
    AGENT_ID = "agent_id"
    AUTHORIZATION = "authorization"
    SIGNATURE = "signature"
    OTHER = "other"


SCAN_TYPE_LABELS = {
    ScanType.ID_FRONT: "身份证件正面",
    ScanType.ID_BACK: "身份证件反面",
    ScanType.AGENT_ID: "代理人身份证件",
    ScanType.AUTHORIZATION: "授权委托书（公证）",
    ScanType.SIGNATURE: "客户签名",
    ScanType.OTHER: "其他影像资料",
}

SCAN_MIME_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


class ArchiveScan(db.Model):
    """A scan staff uploaded to a customer's archive, kept by content hash."""

    __tablename__ = "archive_scan"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    scan_type: Mapped[ScanType] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    original_name: Mapped[str | None] = mapped_column(String(120))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[Staff] = relationship()

    @property
    def label(self) -> str:
        return SCAN_TYPE_LABELS[ScanType(self.scan_type)]


class Dossier(db.Model):
    """One generated version of a customer's PDF dossier; versions are never overwritten."""

    __tablename__ = "dossier"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    version: Mapped[int]
    archive_no: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    pages: Mapped[int]
    # SHA-256 of the record JSON embedded in the PDF: what the dossier is a rendering of.
    record_sha256: Mapped[str] = mapped_column(String(64))
    generated_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)

    generated_by: Mapped[Staff] = relationship()

    __table_args__ = (UniqueConstraint("customer_id", "version"),)


class LendingAction(enum.StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    EXPORT = "export"


LENDING_ACTION_LABELS = {LendingAction.VIEW: "查阅", LendingAction.DOWNLOAD: "下载", LendingAction.EXPORT: "批量导出"}


class LendingRecord(db.Model):
    """The lending register (借阅登记): who read or took which customer's file, when and why."""

    __tablename__ = "lending_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    action: Mapped[LendingAction] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("archive_scan.id"))
    export_job_id: Mapped[int | None] = mapped_column(ForeignKey("export_job.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))

    staff: Mapped[Staff] = relationship()
    customer: Mapped[Customer | None] = relationship()

    __table_args__ = (
        # The register's order, newest first: across branches (HQ) and within the reader's branch.
        Index("ix_lending_record_register", "at", "id"),
        Index("ix_lending_record_branch_register", "branch_id", "at", "id"),
    )

    @property
    def action_label(self) -> str:
        return LENDING_ACTION_LABELS[LendingAction(self.action)]


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(db.Model):
    """A batch export of a branch's dossiers over a date range, as one zip file."""

    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    date_from: Mapped[date]
    date_to: Mapped[date]
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[ExportStatus] = mapped_column(String(16), default=ExportStatus.QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    requested_by: Mapped[Staff] = relationship()
    branch: Mapped[Branch] = relationship()
