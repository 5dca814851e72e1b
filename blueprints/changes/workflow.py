"""States of a change to customer information (资料变更) and the allowed moves between them."""
import enum


class ChangeStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 待复核（同机复核）
    REJECTED = "rejected"    # 复核退回：经办人修改后重新提交，或撤销
    APPLIED = "applied"      # 已生效：新版本资料已启用，正在报送外部系统
    COMPLETED = "completed"  # 已完成：所选系统均已处理成功
    REFUSED = "refused"      # 外部系统拒绝：须更正后重新报送，或撤销（恢复变更前资料）
    WITHDRAWN = "withdrawn"  # 已撤销


STATUS_LABELS = {
    ChangeStatus.SUBMITTED: "待复核",
    ChangeStatus.REJECTED: "已退回",
    ChangeStatus.APPLIED: "已生效，报送中",
    ChangeStatus.COMPLETED: "已完成",
    ChangeStatus.REFUSED: "外部系统拒绝，待处理",
    ChangeStatus.WITHDRAWN: "已撤销",
}

TRANSITIONS: dict[ChangeStatus, frozenset[ChangeStatus]] = {
    ChangeStatus.SUBMITTED: frozenset({ChangeStatus.APPLIED, ChangeStatus.REJECTED}),
    ChangeStatus.REJECTED: frozenset({ChangeStatus.SUBMITTED, ChangeStatus.WITHDRAWN}),
    ChangeStatus.APPLIED: frozenset({ChangeStatus.COMPLETED, ChangeStatus.REFUSED}),
    # Corrected and sent again, or withdrawn: the profile goes back to what it was before.
    ChangeStatus.REFUSED: frozenset({ChangeStatus.APPLIED, ChangeStatus.WITHDRAWN}),
    ChangeStatus.COMPLETED: frozenset(),
    ChangeStatus.WITHDRAWN: frozenset(),
}

# A change in one of these states is still open: the customer has no second change, and no closure.
OPEN = frozenset({ChangeStatus.SUBMITTED, ChangeStatus.REJECTED, ChangeStatus.APPLIED, ChangeStatus.REFUSED})


class IllegalChangeTransition(Exception):
    def __init__(self, current: ChangeStatus, target: ChangeStatus):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current, self.target = current, target


def check_transition(current: str, target: str) -> None:
    if ChangeStatus(target) not in TRANSITIONS[ChangeStatus(current)]:
        raise IllegalChangeTransition(ChangeStatus(current), ChangeStatus(target))
