"""Closure conditions shown pass/fail, and when an account counts as dormant."""
from datetime import date
from decimal import Decimal

import pytest

from blueprints.accounts.closure_rules import Condition, blocks, is_dormant, precheck

CLEAR = dict(holdings=[], open_orders=0, in_transit=Decimal("0.00"), fund_balance=Decimal("0.00"), frozen=False,
             margin_account=False, designated_sh=False, pending_changes=0, undelivered_messages=0)

ORDER = ["no_holdings", "designation_revoked", "no_open_orders", "no_in_transit", "zero_balance",
         "nothing_credited_today", "no_margin_account", "no_option_account", "permissions_cancelled", "not_frozen",
         "no_pending_changes", "no_undelivered_messages"]
LABELS = ["无证券持仓", "已撤销上海指定交易", "无未成交委托", "无在途资金", "资金余额为零",
          "当日无红利、利息入账", "无融资融券账户", "无股票期权账户", "已取消各项业务权限", "账户未冻结",
          "无未完成的资料变更", "无未送达的外部请求"]


def test_a_clear_account_passes_every_condition_in_a_fixed_order():
    conditions = precheck(**CLEAR)
    assert [c.key for c in conditions] == ORDER
    assert [c.label for c in conditions] == LABELS
    assert all(c.passed and c.detail == "" for c in conditions)
    assert not blocks(conditions)


@pytest.mark.parametrize("changes, key, detail", [
    ({"holdings": [{"code": "600000", "name": "浦发银行", "quantity": 1000}]}, "no_holdings",
     "尚持有证券：600000 浦发银行 1000股"),
    ({"holdings": [{"code": "600000", "name": "浦发银行", "quantity": 100}, {"code": "000001", "quantity": 5}]},
     "no_holdings", "尚持有证券：600000 浦发银行 100股、000001 5股"),
    ({"designated_sh": True}, "designation_revoked", "上海指定交易尚未撤销"),
    ({"open_orders": 2}, "no_open_orders", "尚有 2 笔未成交委托"),
    ({"in_transit": Decimal("1200.5")}, "no_in_transit", "在途资金 ¥1,200.50"),
    ({"fund_balance": Decimal("0.01")}, "zero_balance", "资金余额 ¥0.01，须先转出"),
    ({"fund_balance": Decimal("12345.6")}, "zero_balance", "资金余额 ¥12,345.60，须先转出"),
    ({"fund_balance": Decimal("-3")}, "zero_balance", "资金余额 ¥-3.00，须先转出"),
    ({"margin_account": True}, "no_margin_account", "尚有融资融券账户，须先注销"),
    ({"frozen": True}, "not_frozen", "账户处于冻结状态"),
    ({"pending_changes": 1}, "no_pending_changes", "尚有 1 笔资料变更未完成"),
    ({"undelivered_messages": 3}, "no_undelivered_messages", "尚有 3 笔外部系统请求未处理完毕"),
])
def test_each_failing_condition_blocks_and_says_why(changes, key, detail):
    conditions = precheck(**{**CLEAR, **changes})
    failed = [c for c in conditions if not c.passed]
    assert failed == [Condition(key, LABELS[ORDER.index(key)], False, detail)]
    assert blocks(conditions)


@pytest.mark.parametrize("balance, passed", [
    (Decimal("0"), True),
    (Decimal("0.00"), True),
    (Decimal("0.001"), False),  # below a cent is still not zero
    (Decimal("0.01"), False),
])
def test_the_fund_balance_must_be_exactly_zero(balance, passed):
    zero_balance = precheck(**{**CLEAR, "fund_balance": balance})[ORDER.index("zero_balance")]
    assert zero_balance.passed is passed


def test_sold_out_positions_do_not_count_as_holdings():
    conditions = precheck(**{**CLEAR, "holdings": [{"code": "600000", "name": "浦发银行", "quantity": 0}]})
    assert not blocks(conditions)


def test_several_failures_are_all_shown():
    conditions = precheck(**{**CLEAR, "frozen": True, "open_orders": 1, "fund_balance": Decimal("5")})
    assert [c.key for c in conditions if not c.passed] == ["no_open_orders", "zero_balance", "not_frozen"]


def test_blocks_of_no_conditions_is_false():
    assert blocks([]) is False


TODAY = date(2026, 12, 2)
QUIET = dict(holdings=[], fund_balance=Decimal("99.99"), last_trade_on=date(2023, 12, 2), opened_on=date(2010, 1, 4),
             today=TODAY)


@pytest.mark.parametrize("changes, dormant", [
    ({}, True),
    ({"last_trade_on": date(2023, 12, 2)}, True),    # exactly three years ago
    ({"last_trade_on": date(2023, 12, 3)}, False),   # a day short of three years
    ({"last_trade_on": date(2020, 5, 1)}, True),
    ({"last_trade_on": TODAY}, False),
    ({"fund_balance": Decimal("100")}, False),       # ¥100 is not under ¥100
    ({"fund_balance": Decimal("100.00")}, False),
    ({"fund_balance": Decimal("99.99")}, True),
    ({"fund_balance": Decimal("0")}, True),
    ({"holdings": [{"code": "600000", "name": "浦发银行", "quantity": 100}]}, False),
    ({"holdings": [{"code": "600000", "name": "浦发银行", "quantity": 0}]}, True),
    # Never traded: counted from the opening date.
    ({"last_trade_on": None, "opened_on": date(2023, 12, 2)}, True),
    ({"last_trade_on": None, "opened_on": date(2023, 12, 3)}, False),
    ({"last_trade_on": None, "opened_on": date(2026, 1, 5)}, False),
])
def test_is_dormant(changes, dormant):
    assert is_dormant(**{**QUIET, **changes}) is dormant


def test_three_years_from_29_february_end_on_1_march():
    quiet = {**QUIET, "last_trade_on": date(2024, 2, 29)}
    assert is_dormant(**{**quiet, "today": date(2027, 2, 28)}) is False
    assert is_dormant(**{**quiet, "today": date(2027, 3, 1)}) is True


def _clear(**changes):
    values = dict(holdings=[], open_orders=0, in_transit=Decimal("0"), fund_balance=Decimal("0"), frozen=False,
                  margin_account=False, designated_sh=False, pending_changes=0, undelivered_messages=0)
    values.update(changes)
    return {c.key: c for c in precheck(**values)}


def test_an_option_account_open_permissions_and_money_credited_today_each_block_closure():
    assert not blocks(list(_clear().values()))
    assert not _clear(option_account=True)["no_option_account"].passed
    permissions = _clear(permissions=["创业板", "科创板"])["permissions_cancelled"]
    assert not permissions.passed and permissions.detail == "尚未取消的权限：创业板、科创板"
    credited = _clear(credited_today=Decimal("0.35"))["nothing_credited_today"]
    assert not credited.passed and "¥0.35" in credited.detail and "次日" in credited.detail
