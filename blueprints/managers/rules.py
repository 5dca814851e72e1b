"""Pure rules of assignment and handover: who may review, how dates count, how a departure is split."""
import enum
from datetime import date


class HandoverStatus(enum.StrEnum):
    PENDING = "pending"      # 待审核
    APPROVED = "approved"    # 已审核（于生效日起生效）
    REJECTED = "rejected"    # 已退回
    WITHDRAWN = "withdrawn"  # 已撤回


STATUS_LABELS = {
    HandoverStatus.PENDING: "待审核",
    HandoverStatus.APPROVED: "审核通过",
    HandoverStatus.REJECTED: "审核退回",
    HandoverStatus.WITHDRAWN: "已撤回",
}

# The one table of allowed moves of a handover.
TRANSITIONS = {
    HandoverStatus.PENDING: frozenset({HandoverStatus.APPROVED, HandoverStatus.REJECTED, HandoverStatus.WITHDRAWN}),
    HandoverStatus.APPROVED: frozenset(),
    HandoverStatus.REJECTED: frozenset(),
    HandoverStatus.WITHDRAWN: frozenset(),
}


class HandoverKind(enum.StrEnum):
    SELECTED = "selected"    # 客户移交: chosen customers to one successor
    DEPARTURE = "departure"  # 离职移交: every customer, to one or several successors


KIND_LABELS = {HandoverKind.SELECTED: "客户移交", HandoverKind.DEPARTURE: "离职移交"}


class HandoverRefused(Exception):
    """A handover step that is not allowed; the message says why, in Chinese."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def check_transition(current: str, target: HandoverStatus) -> None:
    if target not in TRANSITIONS[HandoverStatus(current)]:
        raise HandoverRefused(f"该移交当前为「{STATUS_LABELS[HandoverStatus(current)]}」，不能再{_VERBS[target]}。", 409)


_VERBS = {HandoverStatus.APPROVED: "审核通过", HandoverStatus.REJECTED: "退回", HandoverStatus.WITHDRAWN: "撤回",
          HandoverStatus.PENDING: "提交"}


def check_effective_date(effective: date | None, today: date) -> str | None:
    """Why this effective date is refused, or None: it must be today or later."""
    if effective is None:
        return "请填写生效日期"
    if effective < today:
        return f"生效日期不能早于今天（{today.isoformat()}）"
    return None


def reviewer_refusal(*, reviewer_id: int, requested_by_id: int, from_staff_id: int) -> str | None:
    """Why this reviewer may not approve the handover, or None (maker ≠ checker, and never the one handing over)."""
    if reviewer_id == from_staff_id:
        return "移交人本人不能审核自己客户的移交"
    if reviewer_id == requested_by_id:
        return "提交移交申请的人不能审核同一笔移交"
    return None


def split_among(customer_ids: list[int], successor_ids: list[int]) -> dict[int, int]:
    """Share a departing manager's customers among the successors in turn: {customer id: successor id}.

    Customers are taken in the order given (by customer number), so each successor gets an equal share,
    the first ones one more when it does not divide evenly.
    """
    if not successor_ids:
        raise ValueError("at least one successor")
    return {customer_id: successor_ids[index % len(successor_ids)] for index, customer_id in enumerate(customer_ids)}


def is_current(effective_from: date, effective_to: date | None, on: date) -> bool:
    """An assignment holds on `on` from its first day up to, not including, its end day."""
    return effective_from <= on and (effective_to is None or on < effective_to)
