"""Merging two records of one person (客户合并): a business entered by a manager and decided by a reviewer."""
import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class MergeStatus(enum.StrEnum):
    PENDING = "pending"      # 待复核
    APPROVED = "approved"    # 已合并
    REJECTED = "rejected"    # 已退回
    WITHDRAWN = "withdrawn"  # 已撤回


STATUS_LABELS = {
    MergeStatus.PENDING: "待复核",
    MergeStatus.APPROVED: "已合并",
    MergeStatus.REJECTED: "已退回",
    MergeStatus.WITHDRAWN: "已撤回",
}

TRANSITIONS: dict[MergeStatus, frozenset[MergeStatus]] = {
    MergeStatus.PENDING: frozenset({MergeStatus.APPROVED, MergeStatus.REJECTED, MergeStatus.WITHDRAWN}),
    MergeStatus.APPROVED: frozenset(),
    MergeStatus.REJECTED: frozenset(),
    MergeStatus.WITHDRAWN: frozenset(),
}


class CustomerMerge(db.Model):
    """One merge: the record that carries on (survivor) takes in the other (absorbed).

    Nothing of either record is rewritten: the absorbed record keeps its profile versions, ID documents,
    accounts, service records, return visits and archive files under its own customer number, becomes
    "merged" and points to the survivor, through whose page it is read from then on.
    """

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    # Shown to staff and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True, info=C1)
    # Sent by the entry form, so a double submit records one merge.
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("customer_duplicate_flag.id"), index=True, info=C1)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    absorbed_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    # The survivor's branch: whose reviewers decide (HQ's when the two records are in different branches).
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    cross_branch: Mapped[bool] = mapped_column(default=False, info=C1)
    status: Mapped[MergeStatus] = mapped_column(String(16), index=True, info=C1)
    reason: Mapped[str] = mapped_column(String(500), info=C2)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    decided_at: Mapped[datetime | None] = mapped_column(info=C1)
    decision_note: Mapped[str | None] = mapped_column(String(500), info=C2)
    # The absorbed record's lifecycle state when it was merged (its kind is "merged" from then on).
    absorbed_kind_before: Mapped[str | None] = mapped_column(String(16), info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One pending merge per absorbed record: a second manager's entry for the same pair is refused.
        Index("uq_customer_merge_pending_absorbed", "absorbed_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[MergeStatus(self.status)]
