"""Value holdings by the valuation guideline (证券公司客户资产管理业务估值方法指引); no Flask, no database.

Rounding: prices and the lock-up fair value are carried at full Decimal precision; each holding's
value (quantity × unit value) is rounded to the cent, ROUND_HALF_UP, and totals are sums of
those rounded values.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


class HoldingKind:
    LISTED = "listed"  # 上市流通股票 (第一、二条)
    UNLISTED_BONUS = "bonus"  # 送股、转增股、配股等发行未上市 (第五条)
    LOCKED_PLACEMENT = "placement"  # 非公开发行且有明确锁定期 (第七条)


HOLDING_KIND_LABELS = {
    HoldingKind.LISTED: "上市流通",
    HoldingKind.UNLISTED_BONUS: "送配股未上市",
    HoldingKind.LOCKED_PLACEMENT: "非公开发行锁定期内",
}

METHOD_LABELS = {
    "close": "估值日收盘价（第一条）",
    "latest_close": "最近交易日收盘价（第二条）",
    "suspended": "停牌：按行业指数涨跌幅调整（第八条）",
    "listed_line": "同一股票上市部分收盘价（第五条）",
    "lockup_formula": "锁定期公式 FV = C + (P − C) × (Dl − Dr) / Dl（第七条）",
    "lockup_close": "收盘价低于成本，按收盘价（第七条）",
    "no_price": "无行情，未计价",
}


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Quote:
    """One day's line of a security: its close, whether it was suspended, its industry."""

    day: date
    close: Decimal
    suspended: bool = False
    industry_code: str | None = None


@dataclass(frozen=True)
class Price:
    """The unit value of a listed line on the valuation date and how it was reached."""

    value: Decimal
    method: str
    quote_day: date


class Series:
    """A day-ordered series (a security's quotes or an industry index) with "latest on or before"."""

    def __init__(self, points: list):
        self.points = sorted(points, key=lambda point: point.day)
        self._days = [point.day for point in self.points]

    def on_or_before(self, day: date):
        index = bisect.bisect_right(self._days, day) - 1
        return self.points[index] if index >= 0 else None

    def last_traded_before(self, day: date):
        """The latest quote before `day` that was not a suspension day."""
        index = bisect.bisect_left(self._days, day) - 1
        while index >= 0 and self.points[index].suspended:
            index -= 1
        return self.points[index] if index >= 0 else None


@dataclass(frozen=True)
class IndexPoint:
    day: date
    close: Decimal


def listed_price(quotes: Series, day: date, index: Series | None = None) -> Price | None:
    """The unit value of a listed line on `day` (第一、二、八条), or None without any quote."""
    quote = quotes.on_or_before(day)
    if quote is None:
        return None
    if not quote.suspended:
        return Price(quote.close, "close" if quote.day == day else "latest_close", quote.day)
    # Suspended: the last traded close moved by the industry index over the suspension (第八条 (一)).
    traded = quotes.last_traded_before(quote.day)
    base = traded if traded is not None else quote
    if index is not None:
        start, end = index.on_or_before(base.day), index.on_or_before(day)
        if start is not None and end is not None and start.close > 0:
            return Price(base.close * end.close / start.close, "suspended", base.day)
    return Price(base.close, "latest_close", base.day)


def lockup_fair_value(cost: Decimal, close: Decimal, lockup_days: int, remaining_days: int) -> Decimal:
    """第七条: P ≤ C values at P; otherwise FV = C + (P − C) × (Dl − Dr) / Dl, unrounded."""
    if lockup_days <= 0:
        raise ValueError("a lock-up has at least one trading day")
    remaining_days = max(0, min(remaining_days, lockup_days))
    if close <= cost:
        return close
    return cost + (close - cost) * Decimal(lockup_days - remaining_days) / Decimal(lockup_days)


class Calendar:
    """Trading days (交易日), for counting a lock-up's Dl and Dr."""

    def __init__(self, days):
        self.days = sorted(set(days))

    def count(self, after: date | None, through: date) -> int:
        """Trading days d with after < d ≤ through (after None: from the beginning)."""
        high = bisect.bisect_right(self.days, through)
        low = 0 if after is None else bisect.bisect_right(self.days, after)
        return max(0, high - low)

    def between(self, first: date, last: date) -> int:
        """Trading days from `first` to `last`, both included."""
        return max(0, bisect.bisect_right(self.days, last) - bisect.bisect_left(self.days, first))

    def last_n(self, n: int, through: date) -> list[date]:
        high = bisect.bisect_right(self.days, through)
        return self.days[max(0, high - n):high]


@dataclass(frozen=True)
class HoldingLine:
    security_code: str
    quantity: Decimal
    cost: Decimal | None  # unit cost (初始取得成本 per share)
    kind: str = HoldingKind.LISTED
    listed_code: str | None = None
    lockup_start: date | None = None
    lockup_end: date | None = None


@dataclass(frozen=True)
class Valued:
    line: HoldingLine
    unit_value: Decimal | None
    value: Decimal
    method: str
    detail: str = ""


def value_line(line: HoldingLine, day: date, price: Price | None, calendar: Calendar | None = None) -> Valued:
    """Value one holding on `day` given the price of the line it follows (itself or the listed line)."""
    if price is None:
        return Valued(line, None, Decimal("0.00"), "no_price")
    if line.kind == HoldingKind.UNLISTED_BONUS:
        return Valued(line, price.value, cents(line.quantity * price.value), "listed_line",
                      f"按 {line.listed_code or line.security_code} 估值")
    if line.kind == HoldingKind.LOCKED_PLACEMENT and line.lockup_end is not None and day <= line.lockup_end:
        calendar = calendar or Calendar([])
        lockup_days = calendar.between(line.lockup_start, line.lockup_end)
        remaining = calendar.count(day, line.lockup_end)
        cost = line.cost if line.cost is not None else price.value
        if lockup_days <= 0:
            return Valued(line, price.value, cents(line.quantity * price.value), price.method)
        if price.value <= cost:
            return Valued(line, price.value, cents(line.quantity * price.value), "lockup_close",
                          f"P={price.value} ≤ C={cost}")
        fair = lockup_fair_value(cost, price.value, lockup_days, remaining)
        return Valued(line, fair, cents(line.quantity * fair), "lockup_formula",
                      f"C={cost} P={price.value} Dl={lockup_days} Dr={remaining}")
    return Valued(line, price.value, cents(line.quantity * price.value), price.method)


def total(valued: list[Valued]) -> Decimal:
    return sum((v.value for v in valued), Decimal("0.00"))
