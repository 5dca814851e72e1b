"""The electronic archive (档案, 第十四条): scans, dossier versions, lending register, exports."""
import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer
from core.classification import C1, C2
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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    scan_type: Mapped[ScanType] = mapped_column(String(16), info=C1)
    sha256: Mapped[str] = mapped_column(String(64), info=C1)
    mime: Mapped[str] = mapped_column(String(40), info=C1)
    size: Mapped[int] = mapped_column(info=C1)
    original_name: Mapped[str | None] = mapped_column(String(120), info=C2)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    uploaded_by: Mapped[Staff] = relationship()

    @property
    def label(self) -> str:
        return SCAN_TYPE_LABELS[ScanType(self.scan_type)]


class Dossier(db.Model):
    """One generated version of a customer's PDF dossier; versions are never overwritten."""

    __tablename__ = "dossier"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    version: Mapped[int] = mapped_column(info=C1)
    archive_no: Mapped[str] = mapped_column(String(32), info=C1)
    sha256: Mapped[str] = mapped_column(String(64), info=C1)
    size: Mapped[int] = mapped_column(info=C1)
    pages: Mapped[int] = mapped_column(info=C1)
    # SHA-256 of the record JSON embedded in the PDF: what the dossier is a rendering of.
    record_sha256: Mapped[str] = mapped_column(String(64), info=C1)
    generated_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    action: Mapped[LendingAction] = mapped_column(String(16), info=C1)
    purpose: Mapped[str] = mapped_column(Text, info=C2)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), info=C1)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("archive_scan.id"), info=C1)
    export_job_id: Mapped[int | None] = mapped_column(ForeignKey("export_job.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True, info=C1)
    ip: Mapped[str | None] = mapped_column(String(64), info=C2)

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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), info=C1)
    date_from: Mapped[date] = mapped_column(info=C1)
    date_to: Mapped[date] = mapped_column(info=C1)
    purpose: Mapped[str] = mapped_column(Text, info=C1)
    status: Mapped[ExportStatus] = mapped_column(String(16), default=ExportStatus.QUEUED, info=C1)
    total: Mapped[int] = mapped_column(default=0, info=C1)
    done: Mapped[int] = mapped_column(default=0, info=C1)
    sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    size: Mapped[int | None] = mapped_column(info=C1)
    error: Mapped[str | None] = mapped_column(Text, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    finished_at: Mapped[datetime | None] = mapped_column(info=C1)

    requested_by: Mapped[Staff] = relationship()
    branch: Mapped[Branch] = relationship()
