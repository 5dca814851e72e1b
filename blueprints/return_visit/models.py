"""Return visits (回访) before activation, as 第十一条 requires."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Staff
from blueprints.return_visit.rules import CASE_STATUS_LABELS, CaseStatus, Outcome
from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


OUTCOME_LABELS = {
    Outcome.PASSED: "已接通，回访通过",
    Outcome.FAILED: "已接通，回访未通过",
    Outcome.NOT_REACHED: "未接通",
    Outcome.REFUSED: "客户拒绝回访",
}

# The five items of 第十一条; "agent" applies only where an agent opened the account.
CHECK_ITEMS = {
    "identity": "（一）确认客户身份",
    "agent": "（一）确认代理人身份及代理权限",
    "risk_understood": "（二）确认客户已阅读各类风险揭示文件并理解相关条款",
    "true_wish": "（三）确认客户开户为其真实意愿",
    "password_reminder": "（四）提醒客户自行设置和妥善保管密码",
    "channel_confirmed": "（五）确认客户开户方式",
}

# The same items in a few characters, for tables that list many calls.
CHECK_ITEM_SHORT = {
    "identity": "（一）客户身份",
    "agent": "（一）代理人身份及权限",
    "risk_understood": "（二）风险揭示",
    "true_wish": "（三）真实意愿",
    "password_reminder": "（四）密码提醒",
    "channel_confirmed": "（五）开户方式",
}


class ReturnVisit(db.Model):
    """One call attempt with its outcome; a passed visit activates the account.

    `attempt_no` counts every call to the customer (unique per application); `round_no` is
    the round it belongs to (see rules.py): only the current round's calls use up its allowance.
    """

    __tablename__ = "return_visit"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    attempt_no: Mapped[int] = mapped_column(info=C1)
    round_no: Mapped[int] = mapped_column(default=1, server_default="1", info=C1)
    agent_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    outcome: Mapped[Outcome] = mapped_column(String(16), info=C1)
    # The 第十一条 items confirmed on this call, by key of CHECK_ITEMS.
    items: Mapped[list] = mapped_column(db.JSON, default=list, info=C1)
    notes: Mapped[str | None] = mapped_column(Text, info=C2)
    recording_sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    recording_name: Mapped[str | None] = mapped_column(String(120), info=C2)
    recording_mime: Mapped[str | None] = mapped_column(String(40), info=C1)
    recording_size: Mapped[int | None] = mapped_column(info=C1)
    visited_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # The application's branch, copied so the statistics count visits per branch from one index;
    # filled from the application if not given.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), default=lambda context: context.connection.scalar(
        text("SELECT branch_id FROM application WHERE id = :id"),
        {"id": context.get_current_parameters().get("application_id")}), info=C1)

    agent: Mapped[Staff] = relationship()

    __table_args__ = (UniqueConstraint("application_id", "attempt_no"),)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[Outcome(self.outcome)]


class ReturnVisitCase(db.Model):
    """An opening's return visit as a business of its own: awaiting calls, with the branch manager, passed.

    Opened when the application's accounts are open; `round_no` counts the rounds of calls
    (the first, and one more each time the branch manager sends the case back). The state
    moves only through rules.CASE_TRANSITIONS, every move a ReturnVisitCaseChange row.

    `branch_id`, `queue_tier` and `waiting_since` are the agents' queue order kept on the case
    (rules.queue_tier), so a page of the queue is one range of an index, whatever the calls on record.
    """

    __tablename__ = "return_visit_case"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), unique=True, info=C1)
    fund_account_id: Mapped[int] = mapped_column(ForeignKey("fund_account.id"), index=True, info=C1)
    status: Mapped[CaseStatus] = mapped_column(String(16), default=CaseStatus.AWAITING, index=True, info=C1)
    round_no: Mapped[int] = mapped_column(default=1, info=C1)
    # When the current round began (the queue's order), when it went to the manager, when it passed.
    entered_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    escalated_at: Mapped[datetime | None] = mapped_column(info=C1)
    passed_at: Mapped[datetime | None] = mapped_column(info=C1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # The application's branch, the queue tier of the round's calls so far and since when the
    # case waits (entering the round, or the last call): the queue's order, kept by services._queue_place.
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), info=C1)
    queue_tier: Mapped[int] = mapped_column(default=0, server_default="0", info=C1)
    waiting_since: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    __table_args__ = (
        # The agents' queue within a branch, and across branches for HQ, in its working order.
        Index("ix_return_visit_case_queue", "status", "branch_id", "queue_tier", "waiting_since", "application_id"),
        Index("ix_return_visit_case_queue_all", "status", "queue_tier", "waiting_since", "application_id"),
        # The branch manager's list, the longest escalated first.
        Index("ix_return_visit_case_escalated", "status", "branch_id", "escalated_at", "application_id"),
        Index("ix_return_visit_case_escalated_all", "status", "escalated_at", "application_id"),
    )

    @property
    def status_label(self) -> str:
        return CASE_STATUS_LABELS[CaseStatus(self.status)]


class ReturnVisitCaseChange(db.Model):
    """One move of a return-visit case: who, when, why (opened, escalated, sent back, passed)."""

    __tablename__ = "return_visit_case_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    case_id: Mapped[int] = mapped_column(ForeignKey("return_visit_case.id", ondelete="CASCADE"), index=True, info=C1)
    from_status: Mapped[str | None] = mapped_column(String(16), info=C1)  # None: the case was opened
    to_status: Mapped[str] = mapped_column(String(16), info=C1)
    round_no: Mapped[int] = mapped_column(info=C1)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    reason: Mapped[str | None] = mapped_column(Text, info=C2)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    actor: Mapped[Staff | None] = relationship()
