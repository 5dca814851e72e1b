"""Grade rules: band edges, precedence, the lowest grade when nothing matches."""
from datetime import date
from decimal import Decimal as D

import pytest

from blueprints.grading.rules import Figures, Rule, decide, direction, tenure_months

RULES = [
    Rule(1, "diamond", 10, min_average_assets=D("10000000")),
    Rule(2, "platinum", 20, min_average_assets=D("3000000")),
    Rule(3, "platinum", 25, min_contribution=D("100000")),
    Rule(4, "gold", 30, min_average_assets=D("1000000")),
    Rule(5, "gold", 35, min_total_assets=D("1000000"), min_tenure_months=36),
    Rule(6, "silver", 40, min_average_assets=D("100000")),
]


def figures(average="0", total="0", contribution="0", tenure=0):
    return Figures(D(average), D(total), D(contribution), tenure)


@pytest.mark.parametrize("average, grade", [
    ("99999.99", "normal"), ("100000.00", "silver"), ("999999.99", "silver"), ("1000000", "gold"),
    ("2999999.99", "gold"), ("3000000", "platinum"), ("9999999.99", "platinum"), ("10000000", "diamond"),
])
def test_band_edges_on_average_assets(average, grade):
    assert decide(RULES, figures(average=average, total=average)).grade == grade


def test_a_rule_needs_every_minimum_it_sets():
    assert decide(RULES, figures(total="1000000", tenure=35)).grade == "normal"
    decision = decide(RULES, figures(total="1000000", tenure=36))
    assert decision.grade == "gold" and decision.rule.id == 5


def test_precedence_decides_between_matching_rules():
    # Contribution alone makes platinum (rule 3, precedence 25) before the gold average rule (30).
    decision = decide(RULES, figures(average="1500000", contribution="100000"))
    assert (decision.grade, decision.rule.id) == ("platinum", 3)
    # A lower precedence number for a lower grade wins: the order is the rules', not the grades'.
    reordered = [Rule(9, "silver", 1, min_average_assets=D("100000"))] + RULES
    assert decide(reordered, figures(average="20000000")).grade == "silver"


def test_nothing_matches_gives_the_lowest_grade():
    decision = decide(RULES, figures())
    assert decision.grade == "normal" and decision.rule is None


def test_rule_description_names_its_minimums():
    assert RULES[4].describe() == "总资产 ≥ 1000000且开户时长（月） ≥ 36"


def test_direction_and_tenure():
    assert direction(None, "gold") == "首次评定"
    assert direction("silver", "gold") == "升级"
    assert direction("gold", "normal") == "降级"
    assert tenure_months(date(2023, 12, 2), date(2026, 12, 2)) == 36
    assert tenure_months(date(2023, 12, 3), date(2026, 12, 2)) == 35
