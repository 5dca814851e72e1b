"""Imported holdings, prices, index closes and commissions; the trading calendar; grade rules and grades."""
import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Staff
from core.classification import C1, C2
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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    kind: Mapped[ImportKind] = mapped_column(String(16), info=C1)
    status: Mapped[ImportStatus] = mapped_column(String(16), default=ImportStatus.QUEUED, index=True, info=C1)
    file_name: Mapped[str] = mapped_column(String(200), info=C1)
    file_format: Mapped[str] = mapped_column(String(8), info=C1)  # csv / xlsx
    sha256: Mapped[str] = mapped_column(String(64), info=C1)
    size: Mapped[int] = mapped_column(info=C1)
    # Holdings imported by a branch manager replace only that branch's; None: all (HQ).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), info=C1)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    # The form's one-time token: a second submit of the same form finds this job instead of adding one.
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True, info=C1)
    # How far the reading has got: bytes of a CSV, rows of a worksheet.
    progress_total: Mapped[int] = mapped_column(default=0, info=C1)
    progress_done: Mapped[int] = mapped_column(default=0, info=C1)
    rows_read: Mapped[int] = mapped_column(default=0, info=C1)
    rows_bad: Mapped[int] = mapped_column(default=0, info=C1)
    rows_imported: Mapped[int] = mapped_column(default=0, info=C1)
    error: Mapped[str | None] = mapped_column(Text, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    finished_at: Mapped[datetime | None] = mapped_column(info=C1)

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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id", ondelete="CASCADE"), index=True, info=C1)
    row_no: Mapped[int] = mapped_column(info=C1)
    reason: Mapped[str] = mapped_column(String(300), info=C1)
    raw: Mapped[str | None] = mapped_column(String(500), info=C2)


class ImportStaging(db.Model):
    """Checked rows of an import waiting to be swapped in (columns shared by every kind)."""

    __tablename__ = "grading_import_staging"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, info=C1)
    job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id", ondelete="CASCADE"), info=C1)
    row_no: Mapped[int] = mapped_column(info=C1)
    # The row's identity within the file (customer, account, code, kind …), to find repeated rows.
    dedup_key: Mapped[str] = mapped_column(String(80), info=C2)
    customer_id: Mapped[int | None] = mapped_column(info=C1)
    fund_account_id: Mapped[int | None] = mapped_column(info=C1)
    branch_id: Mapped[int | None] = mapped_column(info=C1)
    code: Mapped[str | None] = mapped_column(String(16), info=C2)
    other_code: Mapped[str | None] = mapped_column(String(16), info=C2)
    kind: Mapped[str | None] = mapped_column(String(16), info=C1)
    day: Mapped[date | None] = mapped_column(Date, info=C1)
    day_from: Mapped[date | None] = mapped_column(Date, info=C1)
    day_to: Mapped[date | None] = mapped_column(Date, info=C1)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), info=C2)
    amount2: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), info=C2)
    flag: Mapped[bool | None] = mapped_column(info=C1)

    # One index only: each one slows every staged row; the swap's joins drive from the job's rows.
    __table_args__ = (Index("ix_grading_import_staging_job_key", "job_id", "dedup_key"),)


class Holding(db.Model):
    """A customer's position in one security (持仓), as last imported."""

    __tablename__ = "holding"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    fund_account_id: Mapped[int | None] = mapped_column(ForeignKey("fund_account.id"), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    security_code: Mapped[str] = mapped_column(String(16), info=C2)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, info=C2)
    cost: Mapped[Decimal | None] = mapped_column(PRICE, info=C2)  # unit cost 初始取得成本
    kind: Mapped[str] = mapped_column(String(16), info=C1)  # valuation.HoldingKind
    listed_code: Mapped[str | None] = mapped_column(String(16), info=C2)
    lockup_start: Mapped[date | None] = mapped_column(Date, info=C1)
    lockup_end: Mapped[date | None] = mapped_column(Date, info=C1)
    import_job_id: Mapped[int] = mapped_column(ForeignKey("grading_import_job.id"), info=C1)


class SecurityPrice(db.Model):
    """A security's daily line: close, suspension, industry (日行情)."""

    __tablename__ = "security_price"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, info=C1)
    security_code: Mapped[str] = mapped_column(String(16), info=C1)
    day: Mapped[date] = mapped_column(Date, info=C1)
    close: Mapped[Decimal] = mapped_column(PRICE, info=C1)
    suspended: Mapped[bool] = mapped_column(default=False, info=C1)
    industry_code: Mapped[str | None] = mapped_column(String(16), info=C1)

    __table_args__ = (UniqueConstraint("security_code", "day"),)


class IndustryIndexClose(db.Model):
    """An industry index's close on a day (行业指数)."""

    __tablename__ = "industry_index_close"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    industry_code: Mapped[str] = mapped_column(String(16), info=C1)
    day: Mapped[date] = mapped_column(Date, info=C1)
    close: Mapped[Decimal] = mapped_column(PRICE, info=C1)

    __table_args__ = (UniqueConstraint("industry_code", "day"),)


class TradingDay(db.Model):
    """A trading day (交易日), derived from the dates of imported prices."""

    __tablename__ = "trading_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True, info=C1)


class Commission(db.Model):
    """Commission a customer paid on a day (佣金贡献)."""

    __tablename__ = "commission"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    day: Mapped[date] = mapped_column(Date, info=C1)
    amount: Mapped[Decimal] = mapped_column(MONEY, info=C2)

    __table_args__ = (UniqueConstraint("customer_id", "day"),)


class GradeRule(db.Model):
    """One band of the grading rules, kept as data and edited by HQ (see grading/rules.py)."""

    __tablename__ = "grade_rule"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    grade: Mapped[str] = mapped_column(String(16), info=C1)
    precedence: Mapped[int] = mapped_column(info=C1)
    min_average_assets: Mapped[Decimal | None] = mapped_column(MONEY, info=C1)
    min_total_assets: Mapped[Decimal | None] = mapped_column(MONEY, info=C1)
    min_contribution: Mapped[Decimal | None] = mapped_column(MONEY, info=C1)
    min_tenure_months: Mapped[int | None] = mapped_column(info=C1)
    enabled: Mapped[bool] = mapped_column(default=True, info=C1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class CustomerGrade(db.Model):
    """A customer's current grade (客户级别) and the figures it was decided on."""

    __tablename__ = "customer_grade"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True, info=C1)
    grade: Mapped[str] = mapped_column(String(16), info=C1)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("grade_rule.id", ondelete="SET NULL"), info=C1)
    figures: Mapped[dict] = mapped_column(JSON, info=C2)
    valued_on: Mapped[date] = mapped_column(Date, info=C1)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class GradeChange(db.Model):
    """A change of a customer's grade with the figures behind it and the rule that matched."""

    __tablename__ = "grade_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    from_grade: Mapped[str | None] = mapped_column(String(16), info=C1)
    to_grade: Mapped[str] = mapped_column(String(16), info=C1)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("grade_rule.id", ondelete="SET NULL"), info=C1)
    rule_text: Mapped[str] = mapped_column(String(300), info=C1)  # the rule as it read then
    figures: Mapped[dict] = mapped_column(JSON, info=C2)
    valued_on: Mapped[date] = mapped_column(Date, info=C1)
    trigger: Mapped[str] = mapped_column(String(16), info=C1)  # manual / schedule
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


class Notification(db.Model):
    """A message for a staff member's workbench (e.g. a customer's grade changed)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), info=C1)
    topic: Mapped[str] = mapped_column(String(32), info=C1)
    text: Mapped[str] = mapped_column(String(300), info=C2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    read_at: Mapped[datetime | None] = mapped_column(info=C1)

    # Loaded with the notice: the workbench shows the customer's masked name and links the record.
    customer = relationship("Customer", lazy="joined", viewonly=True)
