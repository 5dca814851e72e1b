"""Import row checks: each refusal names its reason in Chinese."""
from datetime import date
from decimal import Decimal as D

import pytest

from blueprints.grading.importing import FileError, RowError, header_map, parse_holding, parse_index, parse_price


def holding(**values):
    row = {"customer_no": "C0101000001", "security_code": "600000", "quantity": "1000", "cost": "10.5"}
    row.update(values)
    return row


def test_a_good_holding():
    parsed = parse_holding(holding())
    assert parsed["code"] == "600000" and parsed["amount"] == D("1000") and parsed["kind"] == "listed"


@pytest.mark.parametrize("values, reason", [
    ({"quantity": "abc"}, "持仓数量“abc”不是数字"),
    ({"quantity": "-5"}, "持仓数量须大于 0"),
    ({"quantity": "1.5"}, "持仓数量须为整数"),
    ({"security_code": "60000"}, "证券代码“60000”格式不正确"),
    ({"customer_no": ""}, "客户号不能为空"),
    ({"kind": "期权"}, "持仓类型“期权”无法识别"),
    ({"kind": "送股"}, "上市流通代码不能为空"),
    ({"kind": "非公开发行", "lockup_start": "2026-01-05"}, "锁定期结束日不能为空"),
    ({"kind": "非公开发行", "lockup_start": "2026-06-05", "lockup_end": "2026-01-05"}, "锁定期结束日不能早于开始日"),
    ({"kind": "非公开发行", "lockup_start": "2026-13-05", "lockup_end": "2027-01-05"}, "锁定期开始日“2026-13-05”不是有效日期"),
    ({"cost": "1.23456"}, "成本价最多 4 位小数"),
])
def test_bad_holdings(values, reason):
    with pytest.raises(RowError) as refused:
        parse_holding(holding(**values))
    assert str(refused.value).startswith(reason)


def test_a_placement_keeps_its_lockup():
    parsed = parse_holding(holding(kind="非公开发行锁定期内", lockup_start="2026/01/05", lockup_end="20270105"))
    assert (parsed["day_from"], parsed["day_to"]) == (date(2026, 1, 5), date(2027, 1, 5))


def test_prices_and_index():
    parsed = parse_price({"security_code": "000001.sz", "day": "2026-11-30", "close": "12.34", "suspended": "是"})
    assert parsed["code"] == "000001.SZ" and parsed["flag"] is True
    with pytest.raises(RowError, match="收盘价须大于 0"):
        parse_price({"security_code": "000001", "day": "2026-11-30", "close": "0"})
    with pytest.raises(RowError, match="停牌标志"):
        parse_price({"security_code": "000001", "day": "2026-11-30", "close": "1", "suspended": "maybe"})
    assert parse_index({"industry_code": "C39", "day": "2026-11-30", "close": "1234.5"})["amount"] == D("1234.5")


def test_header_names_missing_columns():
    with pytest.raises(FileError, match="缺少列：持仓数量"):
        header_map("holdings", ["客户号", "证券代码"])
    assert header_map("holdings", ["\ufeff客户号", "证券代码", "持仓数量"]) == {
        "customer_no": 0, "security_code": 1, "quantity": 2}
