"""The risk-matching principle (风险匹配原则): which product risk levels fit an investor class; no Flask, no database.

A class C1–C5 fits products up to R1–R5 (C1 → R1, C2 → ≤ R2 … C5 → ≤ R5). Without a valid
assessment (none, or expired) only R1 fits, and so it does for the lowest class (最低类别).
A customer who insists on a product beyond their class may buy it after a written warning and
their signed confirmation (适当性管理办法 第十九、二十条), except the lowest class, and except
without a valid assessment: those must be assessed (again) first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
RISK_LEVEL_LABELS = {"R1": "R1 低风险", "R2": "R2 中低风险", "R3": "R3 中风险", "R4": "R4 中高风险", "R5": "R5 高风险"}
CLASS_CEILING = {"C1": "R1", "C2": "R2", "C3": "R3", "C4": "R4", "C5": "R5"}


@dataclass(frozen=True)
class Standing:
    """The customer's assessment as it stands today."""

    investor_class: str | None
    is_lowest: bool
    expires_on: date | None

    def valid(self, today: date) -> bool:
        return self.investor_class is not None and self.expires_on is not None and self.expires_on >= today

    def ceiling(self, today: date) -> str:
        if not self.valid(today) or self.is_lowest:
            return "R1"
        return CLASS_CEILING[self.investor_class]


@dataclass(frozen=True)
class Match:
    fits: bool
    ceiling: str
    message: str
    may_insist: bool


def match(standing: Standing, risk_level: str, today: date) -> Match:
    """Whether a product of `risk_level` fits, with the reason in Chinese."""
    if risk_level not in RISK_LEVELS:
        raise ValueError(f"unknown risk level {risk_level!r}")
    ceiling = standing.ceiling(today)
    if RISK_LEVELS.index(risk_level) <= RISK_LEVELS.index(ceiling):
        return Match(True, ceiling, f"产品风险等级 {risk_level} 不高于客户可承受的 {ceiling}，符合风险匹配原则", False)
    if standing.investor_class is None:
        why = "客户尚无风险承受能力评估，仅可推荐 R1 产品；请先完成评估"
        return Match(False, ceiling, why, False)
    if not standing.valid(today):
        why = f"客户的风险承受能力评估已于 {standing.expires_on} 过期，仅可推荐 R1 产品；请先重新评估"
        return Match(False, ceiling, why, False)
    if standing.is_lowest:
        why = "客户属于风险承受能力最低类别，只能购买 R1 产品，客户坚持也不得销售"
        return Match(False, ceiling, why, False)
    why = (f"产品风险等级 {risk_level} 高于客户风险承受能力 {standing.investor_class}（可承受至 {ceiling}），"
           f"不得向客户推荐（风险匹配原则）")
    return Match(False, ceiling, why, True)
