"""Grade rules (分级规则): which band a customer's figures fall in; no Flask, no database.

A rule is one row of the rules table: a grade and minimums on some of the figures. A rule
matches when every minimum it sets is met (a minimum left empty does not count); rules are
tried in order of precedence (smaller first) and the first match gives the grade. Two rules
with the same grade express "either … or …". No match gives the lowest grade.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

GRADES = ("normal", "silver", "gold", "platinum", "diamond")
GRADE_LABELS = {"normal": "普通", "silver": "银卡", "gold": "金卡", "platinum": "白金", "diamond": "钻石"}
LOWEST_GRADE = "normal"
AVERAGE_DAYS = 20  # the market's usual N for N-trading-day average assets
CONTRIBUTION_DAYS = 365  # commission counted over the last year

FIGURE_LABELS = {
    "average_assets": f"近{AVERAGE_DAYS}个交易日日均资产",
    "total_assets": "总资产",
    "contribution": "近一年佣金贡献",
    "tenure_months": "开户时长（月）",
}


@dataclass(frozen=True)
class Figures:
    """What a customer's grade is decided on."""

    average_assets: Decimal
    total_assets: Decimal
    contribution: Decimal
    tenure_months: int

    def as_dict(self) -> dict:
        return {"average_assets": str(self.average_assets), "total_assets": str(self.total_assets),
                "contribution": str(self.contribution), "tenure_months": self.tenure_months}


@dataclass(frozen=True)
class Rule:
    id: int | None
    grade: str
    precedence: int
    min_average_assets: Decimal | None = None
    min_total_assets: Decimal | None = None
    min_contribution: Decimal | None = None
    min_tenure_months: int | None = None

    def matches(self, figures: Figures) -> bool:
        checks = ((self.min_average_assets, figures.average_assets), (self.min_total_assets, figures.total_assets),
                  (self.min_contribution, figures.contribution), (self.min_tenure_months, figures.tenure_months))
        return all(figure >= minimum for minimum, figure in checks if minimum is not None)

    def describe(self) -> str:
        parts = []
        for key, minimum in (("average_assets", self.min_average_assets), ("total_assets", self.min_total_assets),
                             ("contribution", self.min_contribution), ("tenure_months", self.min_tenure_months)):
            if minimum is not None:
                parts.append(f"{FIGURE_LABELS[key]} ≥ {minimum}")
        return "且".join(parts) or "无条件"


@dataclass(frozen=True)
class Decision:
    grade: str
    rule: Rule | None


def decide(rules: list[Rule], figures: Figures) -> Decision:
    """The grade of the first rule, by precedence, whose minimums the figures all meet."""
    for rule in sorted(rules, key=lambda r: (r.precedence, r.id or 0)):
        if rule.matches(figures):
            return Decision(rule.grade, rule)
    return Decision(LOWEST_GRADE, None)


def direction(before: str | None, after: str) -> str:
    """升级 / 降级 / 首次评定, by the grades' order."""
    if before is None:
        return "首次评定"
    return "升级" if GRADES.index(after) > GRADES.index(before) else "降级"


def tenure_months(opened, today) -> int:
    """Whole months from `opened` to `today` (a month counts when its day is reached)."""
    months = (today.year - opened.year) * 12 + (today.month - opened.month)
    if today.day < opened.day:
        months -= 1
    return max(0, months)
