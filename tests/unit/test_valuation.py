"""Valuation by the guideline, with worked numbers (rounded to the cent, ROUND_HALF_UP)."""
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from blueprints.grading.valuation import (Calendar, HoldingKind, HoldingLine, IndexPoint, Price, Quote, Series,
                                          cents, listed_price, lockup_fair_value, value_line)

# Ten trading days, 2026-11-02 (Mon) … 2026-11-13 (Fri), weekends off.
DAYS = [date(2026, 11, 2) + timedelta(days=n) for n in range(12) if (date(2026, 11, 2) + timedelta(days=n)).weekday() < 5]
CALENDAR = Calendar(DAYS)


def placement(quantity="1000", cost="10.00"):
    return HoldingLine("600001", D(quantity), D(cost), HoldingKind.LOCKED_PLACEMENT, None, DAYS[0], DAYS[-1])


def test_calendar_counts_the_lockup_and_the_days_left_after_the_valuation_date():
    assert len(DAYS) == 10
    assert CALENDAR.between(DAYS[0], DAYS[-1]) == 10
    assert CALENDAR.count(DAYS[0], DAYS[-1]) == 9  # the valuation day itself is not counted
    assert CALENDAR.count(DAYS[-1], DAYS[-1]) == 0


def test_lockup_first_day_values_one_tenth_of_the_gain():
    # FV = 10 + (15 − 10) × (10 − 9) / 10 = 10.50
    valued = value_line(placement(), DAYS[0], Price(D("15.00"), "close", DAYS[0]), CALENDAR)
    assert valued.method == "lockup_formula"
    assert valued.unit_value == D("10.5")
    assert valued.value == D("10500.00")
    assert "Dl=10 Dr=9" in valued.detail


def test_lockup_last_day_values_at_the_close():
    # Dr = 0: FV = 10 + 5 × 10 / 10 = 15
    valued = value_line(placement(), DAYS[-1], Price(D("15.00"), "close", DAYS[-1]), CALENDAR)
    assert valued.unit_value == D("15")
    assert valued.value == D("15000.00")


def test_lockup_middle_day():
    # Valued on the 4th day: Dr = 6, FV = 10 + 5 × 4 / 10 = 12
    valued = value_line(placement(), DAYS[3], Price(D("15.00"), "close", DAYS[3]), CALENDAR)
    assert valued.value == D("12000.00")


def test_lockup_close_below_cost_values_at_the_close():
    valued = value_line(placement(), DAYS[0], Price(D("8.00"), "close", DAYS[0]), CALENDAR)
    assert valued.method == "lockup_close"
    assert valued.value == D("8000.00")


def test_lockup_formula_rounds_half_up_to_the_cent():
    # FV = 10 + 0.01 × (2 − 1) / 2 = 10.005 → 10.01 (ROUND_HALF_UP; banker's rounding would give 10.00)
    assert lockup_fair_value(D("10"), D("10.01"), 2, 1) == D("10.005")
    assert cents(D("10.005")) == D("10.01")
    assert cents(D("2.345")) == D("2.35")
    assert cents(D("-2.345")) == D("-2.35")


def test_lockup_needs_trading_days():
    with pytest.raises(ValueError):
        lockup_fair_value(D("10"), D("12"), 0, 0)


def test_listed_stock_closes_on_the_valuation_date():
    quotes = Series([Quote(DAYS[0], D("12.00")), Quote(DAYS[1], D("12.34"))])
    assert listed_price(quotes, DAYS[1]) == Price(D("12.34"), "close", DAYS[1])


def test_no_trade_on_the_valuation_date_takes_the_latest_close():
    quotes = Series([Quote(DAYS[0], D("12.00")), Quote(DAYS[1], D("12.34"))])
    price = listed_price(quotes, DAYS[4])
    assert price.value == D("12.34") and price.method == "latest_close"
    assert listed_price(quotes, DAYS[0] - timedelta(days=1)) is None


def test_suspended_stock_moves_with_its_industry_index():
    # Last traded at 20.00 on day 1 (index 1000); suspended since; index 1100 on day 3: 20 × 1.1 = 22.00
    quotes = Series([Quote(DAYS[0], D("20.00"), False, "C39"), Quote(DAYS[1], D("20.00"), True, "C39"),
                     Quote(DAYS[2], D("20.00"), True, "C39")])
    index = Series([IndexPoint(DAYS[0], D("1000")), IndexPoint(DAYS[1], D("1050")), IndexPoint(DAYS[2], D("1100"))])
    price = listed_price(quotes, DAYS[2], index)
    assert price.method == "suspended" and price.value == D("22.00")
    line = HoldingLine("000001", D("300"), None)
    assert value_line(line, DAYS[2], price).value == D("6600.00")


def test_suspended_stock_without_index_keeps_the_last_traded_close():
    quotes = Series([Quote(DAYS[0], D("20.00")), Quote(DAYS[1], D("19.00"), True)])
    price = listed_price(quotes, DAYS[1], None)
    assert price.value == D("20.00") and price.method == "latest_close"


def test_bonus_shares_take_the_listed_lines_close():
    line = HoldingLine("600001", D("150"), None, HoldingKind.UNLISTED_BONUS, "600000")
    valued = value_line(line, DAYS[0], Price(D("9.87"), "close", DAYS[0]))
    assert valued.method == "listed_line"
    assert valued.value == D("1480.50")


def test_no_price_values_nothing_and_says_so():
    valued = value_line(HoldingLine("600001", D("100"), None), DAYS[0], None)
    assert valued.value == D("0.00") and valued.method == "no_price"
