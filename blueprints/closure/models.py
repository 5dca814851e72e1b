"""Closure (销户) and reactivation (休眠账户激活) businesses, their decisions and closure steps."""
import enum
from datetime import datetime
from typing import ClassVar

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from core.classification import C1, C2
from core.extensions import db
from core.outbox import OutboxMessage
from core.timeutil import utcnow


class ClosureStatus(enum.StrEnum):
    SUBMITTED = "submitted"        # 待复核
    REJECTED = "rejected"          # 复核退回：可重新提交或撤回
    WITHDRAWN = "withdrawn"        # 已撤回
    CLOSING = "closing"            # 销户中
    STEP_REFUSED = "step_refused"  # 销户失败：某一步被对方拒绝，待异常处理（重新发送或撤销）
    FAILED = "failed"              # 销户失败：被拒绝的步骤已撤销，账户回到原状态
    CLOSED = "closed"              # 已销户


CLOSURE_STATUS_LABELS = {
    ClosureStatus.SUBMITTED: "待复核",
    ClosureStatus.REJECTED: "复核退回",
    ClosureStatus.WITHDRAWN: "已撤回",
    ClosureStatus.CLOSING: "销户中",
    ClosureStatus.STEP_REFUSED: "销户失败（待处理）",
    ClosureStatus.FAILED: "销户失败（已终止）",
    ClosureStatus.CLOSED: "已销户",
}

# The one table of allowed moves of a closure; anything else is refused.
CLOSURE_TRANSITIONS: dict[ClosureStatus, frozenset[ClosureStatus]] = {
    ClosureStatus.SUBMITTED: frozenset({ClosureStatus.CLOSING, ClosureStatus.REJECTED, ClosureStatus.WITHDRAWN}),
    ClosureStatus.REJECTED: frozenset({ClosureStatus.SUBMITTED, ClosureStatus.WITHDRAWN}),
    ClosureStatus.CLOSING: frozenset({ClosureStatus.STEP_REFUSED, ClosureStatus.CLOSED}),
    ClosureStatus.STEP_REFUSED: frozenset({ClosureStatus.CLOSING, ClosureStatus.FAILED}),
    ClosureStatus.WITHDRAWN: frozenset(),
    ClosureStatus.FAILED: frozenset(),
    ClosureStatus.CLOSED: frozenset(),
}


class IllegalBusinessTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"{current} -> {target} is not allowed")


def move(business, target, transitions: dict) -> None:
    """Move a closure or reactivation through its transition table."""
    if target not in transitions[type(target)(business.status)]:
        raise IllegalBusinessTransition(business.status, target)
    business.status = target


# A closure in one of these holds its fund account: no second closure may start for it.
CLOSURE_OPEN = frozenset({ClosureStatus.SUBMITTED, ClosureStatus.REJECTED, ClosureStatus.CLOSING,
                          ClosureStatus.STEP_REFUSED})


class ClosureStep(enum.IntEnum):
    """The closure steps in the order they run; each is its own request."""

    FUNDS_OUT = 1
    UNBIND = 2
    FUND_ACCOUNT = 3
    SUB_ACCOUNTS = 4
    UNIFIED_ACCOUNT = 5


STEP_LABELS = {
    ClosureStep.FUNDS_OUT: "资金转出",
    ClosureStep.UNBIND: "解除第三方存管",
    ClosureStep.FUND_ACCOUNT: "注销资金账户",
    ClosureStep.SUB_ACCOUNTS: "注销证券账户（中国结算）",
    ClosureStep.UNIFIED_ACCOUNT: "注销一码通账户（中国结算）",
}


class FundAccountBusiness:
    """What a closure and a reactivation share: a business on one fund account of a customer at a branch,
    holding the account while open, versioned against a lost update. Each keeps its own table."""

    status_labels: ClassVar[dict]  # each status's label, for status_label

    # sort_order keeps these columns first, where the tables have them.
    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1, info=C1)
    # Shown to staff and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True, sort_order=-1, info=C1)
    # Sent by the start form, so a double submit records one business.
    client_token: Mapped[str] = mapped_column(String(64), unique=True, sort_order=-1, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, sort_order=-1, info=C1)
    fund_account_id: Mapped[int] = mapped_column(ForeignKey("fund_account.id"), index=True, sort_order=-1, info=C1)
    # The fund account while the business is open, None once it ended: one open business of a kind per account.
    open_fund_account_id: Mapped[int | None] = mapped_column(unique=True, sort_order=-1, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, sort_order=-1, info=C1)
    status: Mapped[str] = mapped_column(String(16), index=True, sort_order=-1, info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    @declared_attr
    def fund_account(cls):
        return relationship("FundAccount")

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}

    @property
    def status_label(self) -> str:
        return self.status_labels[self.status]


class AccountClosure(FundAccountBusiness, db.Model):
    """A closure business (销户) for one fund account of a customer."""

    __tablename__ = "account_closure"
    status_labels = CLOSURE_STATUS_LABELS

    # Each submission is decided once; a resubmission after a rejection is the next number.
    submission_no: Mapped[int] = mapped_column(default=1, info=C1)
    # The conditions as last checked (at submission or approval): [{key, label, passed, detail}].
    precheck: Mapped[list] = mapped_column(JSON, default=list, info=C2)
    # Where the accounts were before closing, to go back to when the closure fails:
    # {"fund": status, "securities": {id: status}}.
    previous_statuses: Mapped[dict | None] = mapped_column(JSON, info=C1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    submitted_at: Mapped[datetime | None] = mapped_column(info=C1)
    decided_at: Mapped[datetime | None] = mapped_column(info=C1)
    closed_at: Mapped[datetime | None] = mapped_column(info=C1)
    # Why the closure failed (a cancelled step), or was withdrawn.
    end_reason: Mapped[str | None] = mapped_column(String(500), info=C2)

    steps: Mapped[list["ClosureStepRecord"]] = relationship(order_by="ClosureStepRecord.step",
                                                            back_populates="closure")
    created_by = relationship("Staff", foreign_keys=[created_by_id])


class ClosureStepRecord(db.Model):
    """One step of a closure: the request that carries it out, and what came of it."""

    __tablename__ = "account_closure_step"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    closure_id: Mapped[int] = mapped_column(ForeignKey("account_closure.id"), index=True, info=C1)
    step: Mapped[int] = mapped_column(info=C1)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), unique=True, info=C1)
    # What the step came to, in Chinese ("无需转出（余额为零）", "保留（他方券商仍在使用）").
    outcome: Mapped[str | None] = mapped_column(String(200), info=C1)

    closure: Mapped[AccountClosure] = relationship(back_populates="steps")
    message: Mapped[OutboxMessage] = relationship()

    __table_args__ = (UniqueConstraint("closure_id", "step"),)

    @property
    def label(self) -> str:
        return STEP_LABELS[ClosureStep(self.step)]


class ClosureDecision(db.Model):
    """The reviewer's decision on one submission of a closure; one per submission."""

    __tablename__ = "account_closure_decision"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    closure_id: Mapped[int] = mapped_column(ForeignKey("account_closure.id"), index=True, info=C1)
    submission_no: Mapped[int] = mapped_column(info=C1)
    decision: Mapped[str] = mapped_column(String(8), info=C1)  # approve / reject
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    operator_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    reason: Mapped[str | None] = mapped_column(String(500), info=C2)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    reviewer = relationship("Staff", foreign_keys=[reviewer_id])
    operator = relationship("Staff", foreign_keys=[operator_id])

    __table_args__ = (UniqueConstraint("closure_id", "submission_no"),)


class ReactivationStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 待复核
    APPROVED = "approved"    # 已激活
    REJECTED = "rejected"    # 复核退回
    WITHDRAWN = "withdrawn"  # 已撤回


REACTIVATION_TRANSITIONS: dict[ReactivationStatus, frozenset[ReactivationStatus]] = {
    ReactivationStatus.SUBMITTED: frozenset({ReactivationStatus.APPROVED, ReactivationStatus.REJECTED,
                                             ReactivationStatus.WITHDRAWN}),
    ReactivationStatus.APPROVED: frozenset(),
    ReactivationStatus.REJECTED: frozenset(),
    ReactivationStatus.WITHDRAWN: frozenset(),
}

REACTIVATION_STATUS_LABELS = {
    ReactivationStatus.SUBMITTED: "待复核",
    ReactivationStatus.APPROVED: "已激活",
    ReactivationStatus.REJECTED: "复核退回",
    ReactivationStatus.WITHDRAWN: "已撤回",
}


class AccountReactivation(FundAccountBusiness, db.Model):
    """Reactivating a dormant fund account at the counter (休眠账户激活), with the ID re-checked."""

    __tablename__ = "account_reactivation"
    status_labels = REACTIVATION_STATUS_LABELS

    # The ID document version the clerk checked against the one the customer showed.
    id_document_id: Mapped[int | None] = mapped_column(ForeignKey("customer_id_document.id"), info=C1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    decided_at: Mapped[datetime | None] = mapped_column(info=C1)
    reason: Mapped[str | None] = mapped_column(String(500), info=C2)

    created_by = relationship("Staff", foreign_keys=[created_by_id])
    reviewer = relationship("Staff", foreign_keys=[reviewer_id])
    operator = relationship("Staff", foreign_keys=[operator_id])
