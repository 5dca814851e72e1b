"""Rules for closing an account (销户) and for finding dormant (休眠) ones."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from blueprints.opening.rules import age_on

DORMANT_BALANCE_BELOW = Decimal("100")
DORMANT_AFTER_YEARS = 3


@dataclass(frozen=True)
class Condition:
    """One closure condition, shown pass/fail to the clerk; any failure blocks submission."""

    key: str
    label: str
    passed: bool
    detail: str


def _yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def held(holdings: list[dict]) -> list[dict]:
    """The holdings with a positive quantity."""
    return [holding for holding in holdings or [] if (holding.get("quantity") or 0) > 0]


def _holdings_detail(holdings: list[dict]) -> str:
    named = "、".join(" ".join(part for part in (h.get("code"), h.get("name"), f"{h['quantity']}股") if part)
                     for h in holdings)
    return f"尚持有证券：{named}"


def precheck(*, holdings: list[dict], open_orders: int, in_transit: Decimal, fund_balance: Decimal, frozen: bool,
             margin_account: bool, designated_sh: bool, pending_changes: int, undelivered_messages: int,
             option_account: bool = False, permissions: tuple | list = (),
             credited_today: Decimal = Decimal("0")) -> list[Condition]:
    """Every closure condition in the order the clerk works through them."""
    securities = held(holdings)
    granted = "、".join(permissions)
    return [
        Condition("no_holdings", "无证券持仓", not securities, _holdings_detail(securities) if securities else ""),
        Condition("designation_revoked", "已撤销上海指定交易", not designated_sh,
                  "上海指定交易尚未撤销" if designated_sh else ""),
        Condition("no_open_orders", "无未成交委托", open_orders == 0,
                  f"尚有 {open_orders} 笔未成交委托" if open_orders else ""),
        Condition("no_in_transit", "无在途资金", in_transit == 0,
                  f"在途资金 {_yuan(in_transit)}" if in_transit != 0 else ""),
        # Exactly zero: a cent of interest credited today is still money the customer must take out.
        Condition("zero_balance", "资金余额为零", fund_balance == 0,
                  f"资金余额 {_yuan(fund_balance)}，须先转出" if fund_balance != 0 else ""),
        # Money credited today (a dividend, interest) may still arrive in the account after it closes.
        Condition("nothing_credited_today", "当日无红利、利息入账", credited_today == 0,
                  f"今日有 {_yuan(credited_today)} 红利或利息入账，须次日办理" if credited_today != 0 else ""),
        Condition("no_margin_account", "无融资融券账户", not margin_account,
                  "尚有融资融券账户，须先注销" if margin_account else ""),
        Condition("no_option_account", "无股票期权账户", not option_account,
                  "尚有股票期权账户，须先注销" if option_account else ""),
        Condition("permissions_cancelled", "已取消各项业务权限", not permissions,
                  f"尚未取消的权限：{granted}" if permissions else ""),
        Condition("not_frozen", "账户未冻结", not frozen, "账户处于冻结状态" if frozen else ""),
        Condition("no_pending_changes", "无未完成的资料变更", pending_changes == 0,
                  f"尚有 {pending_changes} 笔资料变更未完成" if pending_changes else ""),
        Condition("no_undelivered_messages", "无未送达的外部请求", undelivered_messages == 0,
                  f"尚有 {undelivered_messages} 笔外部系统请求未处理完毕" if undelivered_messages else ""),
    ]


def blocks(conditions: list[Condition]) -> bool:
    """Whether any condition fails, so the closure cannot be submitted."""
    return any(not condition.passed for condition in conditions)


def is_dormant(*, holdings: list[dict], fund_balance: Decimal, last_trade_on: date | None, opened_on: date,
               today: date) -> bool:
    """Dormant: no securities, under ¥100 and no trade for three full years (never traded: since opening)."""
    quiet_since = last_trade_on or opened_on
    return (not held(holdings) and fund_balance < DORMANT_BALANCE_BELOW
            and age_on(quiet_since, today) >= DORMANT_AFTER_YEARS)
