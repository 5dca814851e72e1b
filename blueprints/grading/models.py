"""Imported holdings, prices, index closes and commissions; the trading calendar; grade rules and grades."""
import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Staff
from core.extensions import db
from core.timeutil import utcnow

MONEY = Numeric(20, 2)
PRICE = Numeric(18, 4)
QUANTITY = Numeric(20, 0)


class ImportKind(enum.StrEnum):
    HOLDINGS = "holdings"
    PRICES = "prices"
    INDEX = "index"
    COMMISSIONS = "commissions"


IMPORT_KIND_LABELS = {
    ImportKind.HOLDINGS: "客户持仓",
    ImportKind.PRICES: "证券日行情",
    ImportKind.INDEX: "行业指数收盘",
    ImportKind.COMMISSIONS: "佣金贡献",
}


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    REJECTED = "rejected"  # bad rows: nothing imported
    DONE = "done"
    FAILED = "failed"


IMPORT_STATUS_LABELS = {
    ImportStatus.QUEUED: "等待处理",
    ImportStatus.RUNNING: "校验中",
    ImportStatus.REJECTED: "有错误行，未导入",
    ImportStatus.DONE: "导入完成",
    ImportStatus.FAILED: "处理失败",
}


class ImportJob(db.Model):
    """One uploaded file, checked row by row and swapped in whole, or not at all."""

    __tablename__ = "grading_import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ImportKind] = mapped_column(String(16))
    status: Mapped[ImportStatus] = mapped_column(String(16), default=ImportStatus.QUEUED, index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_format: Mapped[str] = mapped_column(String(8))  # csv / xlsx
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    # Holdings imported by a branch manager replace only that branch's; None: all (HQ).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # The form's one-time token: a second submit of the same form finds this job instead of adding one.
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # How far the reading has got: bytes of a CSV, rows of a worksheet.
    progress_total: Mapped[int] = mapped_column(default=0)
    progress_done: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_bad: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    requested_by: Mapped[Staff] = relationship()

    @property
    def kind_label(self) -> str:
        return IMPORT_KIND_LABELS[ImportKind(self.kind)]

    @property
    def status_label(self) -> str:
        return IMPORT_STATUS_LABELS[ImportStatus(self.status)]

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.REJECTED, ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(99, int(self.progress_done * 100 / self.progress_total)) if self.progress_total else 0


class ImportRowError(db.Model):
    """A row the import refused: its number in the file (the header is row 1) and why."""

    __tablename__ = "grading_import_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id", ondelete="CASCADE"), index=True)
    row_no: Mapped[int]
    reason: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str | None] = mapped_column(String(500))


class ImportStaging(db.Model):
    """Checked rows of an import waiting to be swapped in (columns shared by every kind)."""

    __tablename__ = "grading_import_staging"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id", ondelete="CASCADE"))
    row_no: Mapped[int]
    # The row's identity within the file (customer, account, code, kind …), to find repeated rows.
    dedup_key: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[int | None]
    fund_account_id: Mapped[int | None]
    branch_id: Mapped[int | None]
    code: Mapped[str | None] = mapped_column(String(16))
    other_code: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    day: Mapped[date | None] = mapped_column(Date)
    day_from: Mapped[date | None] = mapped_column(Date)
    day_to: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    amount2: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    flag: Mapped[bool | None]

    # One index only: each one slows every staged row; the swap's joins drive from the job's rows.
    __table_args__ = (Index("ix_grading_import_staging_job_key", "job_id", "dedup_key"),)


class Holding(db.Model):
    """A customer's position in one security (持仓), as last imported."""

    __tablename__ = "holding"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    fund_account_id: Mapped[int | None] = mapped_column(ForeignKey("fund_account.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    security_code: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    cost: Mapped[Decimal | None] = mapped_column(PRICE)  # unit cost 初始取得成本
    kind: Mapped[str] = mapped_column(String(16))  # valuation.HoldingKind
    listed_code: Mapped[str | None] = mapped_column(String(16))
    lockup_start: Mapped[date | None] = mapped_column(Date)
    lockup_end: Mapped[date | None] = mapped_column(Date)
    import_job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id"))


class SecurityPrice(db.Model):
    """A security's daily line: close, suspension, industry (日行情)."""

    __tablename__ = "security_price"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    security_code: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    close: Mapped[Decimal] = mapped_column(PRICE)
    suspended: Mapped[bool] = mapped_column(default=False)
    industry_code: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (UniqueConstraint("security_code", "day"),)


class IndustryIndexClose(db.Model):
    """An industry index's close on a day (行业指数)."""

    __tablename__ = "industry_index_close"

    id: Mapped[int] = mapped_column(primary_key=True)
    industry_code: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    close: Mapped[Decimal] = mapped_column(PRICE)

    __table_args__ = (UniqueConstraint("industry_code", "day"),)


class TradingDay(db.Model):
    """A trading day (交易日), derived from the dates of imported prices."""

    __tablename__ = "trading_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class Commission(db.Model):
    """Commission a customer paid on a day (佣金贡献)."""

    __tablename__ = "commission"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (UniqueConstraint("customer_id", "day"),)


class GradeRule(db.Model):
    """One band of the grading rules, kept as data and edited by HQ (see grading/rules.py)."""

    __tablename__ = "grade_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(String(16))
    precedence: Mapped[int]
    min_average_assets: Mapped[Decimal | None] = mapped_column(MONEY)
    min_total_assets: Mapped[Decimal | None] = mapped_column(MONEY)
    min_contribution: Mapped[Decimal | None] = mapped_column(MONEY)
    min_tenure_months: Mapped[int | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerGrade(db.Model):
    """A customer's current grade (客户级别) and the figures it was decided on."""

    __tablename__ = "customer_grade"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    grade: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("grade_rule.id", ondelete="SET NULL"))
    figures: Mapped[dict] = mapped_column(JSON)
    valued_on: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradeChange(db.Model):
    """A change of a customer's grade with the figures behind it and the rule that matched."""

    __tablename__ = "grade_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    from_grade: Mapped[str | None] = mapped_column(String(16))
    to_grade: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("grade_rule.id", ondelete="SET NULL"))
    rule_text: Mapped[str] = mapped_column(String(300))  # the rule as it read then
    figures: Mapped[dict] = mapped_column(JSON)
    valued_on: Mapped[date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(16))  # manual / schedule
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(db.Model):
    """A message for a staff member's workbench (e.g. a customer's grade changed)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    topic: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    # Loaded with the notice: the workbench shows the customer's masked name and links the record.
    customer = relationship("Customer", lazy="joined", viewonly=True)
