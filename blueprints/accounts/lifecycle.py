"""The accounts' lifecycle: opening → inactive → active → closing → closed, plus dormant and restricted."""
import enum


class AccountStatus(enum.StrEnum):
    OPENING = "opening"        # 开立中
    INACTIVE = "inactive"      # 未激活（待回访或回访未通过）
    ACTIVE = "active"          # 正常
    DORMANT = "dormant"        # 休眠
    RESTRICTED = "restricted"  # 限制（不合格账户、证件过期未更新）
    CLOSING = "closing"        # 销户中
    CLOSED = "closed"          # 已销户
    FAILED = "failed"          # 开立失败：中国结算拒绝且请求已撤销，不会再开立


ACCOUNT_STATUS_LABELS = {
    AccountStatus.OPENING: "开立中",
    AccountStatus.INACTIVE: "未激活",
    AccountStatus.ACTIVE: "正常",
    AccountStatus.DORMANT: "休眠",
    AccountStatus.RESTRICTED: "限制交易",
    AccountStatus.CLOSING: "销户中",
    AccountStatus.CLOSED: "已销户",
    AccountStatus.FAILED: "开立失败",
}

# The one table of allowed moves. A closure that fails returns the account to where it was
# (active, inactive, dormant or restricted), so closing may go back to each of them.
TRANSITIONS: dict[AccountStatus, frozenset[AccountStatus]] = {
    AccountStatus.OPENING: frozenset({AccountStatus.INACTIVE, AccountStatus.FAILED}),
    AccountStatus.INACTIVE: frozenset({AccountStatus.ACTIVE, AccountStatus.CLOSING, AccountStatus.RESTRICTED}),
    AccountStatus.ACTIVE: frozenset({AccountStatus.DORMANT, AccountStatus.RESTRICTED, AccountStatus.CLOSING}),
    AccountStatus.DORMANT: frozenset({AccountStatus.ACTIVE, AccountStatus.CLOSING}),
    AccountStatus.RESTRICTED: frozenset({AccountStatus.ACTIVE, AccountStatus.CLOSING}),
    AccountStatus.CLOSING: frozenset({AccountStatus.CLOSED, AccountStatus.ACTIVE, AccountStatus.INACTIVE,
                                      AccountStatus.DORMANT, AccountStatus.RESTRICTED}),
    AccountStatus.CLOSED: frozenset(),
    AccountStatus.FAILED: frozenset(),
}

# States in which an account still exists for the customer (not closed, never opened).
LIVE = frozenset({AccountStatus.OPENING, AccountStatus.INACTIVE, AccountStatus.ACTIVE, AccountStatus.DORMANT,
                  AccountStatus.RESTRICTED, AccountStatus.CLOSING})


class IllegalAccountTransition(Exception):
    def __init__(self, current: AccountStatus, target: AccountStatus):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current, self.target = current, target


def check_transition(current: str, target: str) -> None:
    if AccountStatus(target) not in TRANSITIONS[AccountStatus(current)]:
        raise IllegalAccountTransition(AccountStatus(current), AccountStatus(target))
