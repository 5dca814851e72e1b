"""Return-visit rules and script without an app: where an account goes, rounds, the text read aloud."""
import pytest

import itertools

from blueprints.return_visit import rules, script
from blueprints.return_visit.models import CHECK_ITEMS
from blueprints.return_visit.rules import CaseStatus, Outcome


@pytest.mark.parametrize("outcome, attempts_in_round, max_attempts, expected", [
    (Outcome.PASSED, 1, 3, CaseStatus.PASSED),
    (Outcome.PASSED, 3, 3, CaseStatus.PASSED),
    (Outcome.FAILED, 1, 3, CaseStatus.AWAITING),
    (Outcome.REFUSED, 2, 3, CaseStatus.AWAITING),
    (Outcome.NOT_REACHED, 2, 3, CaseStatus.AWAITING),
    (Outcome.FAILED, 3, 3, CaseStatus.ESCALATED),
    (Outcome.REFUSED, 3, 3, CaseStatus.ESCALATED),
    (Outcome.NOT_REACHED, 3, 3, CaseStatus.ESCALATED),
    (Outcome.NOT_REACHED, 5, 3, CaseStatus.ESCALATED),  # the setting lowered while a round ran
    (Outcome.NOT_REACHED, 1, 1, CaseStatus.ESCALATED),
])
def test_status_after_a_call(outcome, attempts_in_round, max_attempts, expected):
    assert rules.status_after(outcome, attempts_in_round, max_attempts) == expected


def test_every_unsuccessful_outcome_counts_and_only_passed_activates():
    assert {o for o in Outcome if rules.status_after(o, 1, 1) == CaseStatus.ESCALATED} == set(Outcome) - {Outcome.PASSED}


CASE_MOVES = {(CaseStatus.AWAITING, CaseStatus.ESCALATED), (CaseStatus.AWAITING, CaseStatus.PASSED),
              (CaseStatus.ESCALATED, CaseStatus.AWAITING)}


@pytest.mark.parametrize("current, target", sorted(itertools.product(CaseStatus, CaseStatus)))
def test_a_case_moves_only_as_the_table_says(current, target):
    """Calls escalate or pass a case; only the manager's send-back returns it to the queue; passed is final."""
    if (current, target) in CASE_MOVES:
        rules.check_case_transition(current, target)
    else:
        with pytest.raises(rules.IllegalCaseTransition):
            rules.check_case_transition(current, target)


def test_every_case_status_has_a_chinese_label():
    assert set(rules.CASE_STATUS_LABELS) == set(CaseStatus)


def test_attempts_left_never_goes_below_zero():
    assert [rules.attempts_left(n, 3) for n in range(5)] == [3, 2, 1, 0, 0]


@pytest.mark.parametrize("value, masked", [
    ("11010519880612315X", "**************315X"),
    ("E12345678", "*****5678"),
    ("1234", "****"),
    ("", ""),
    (None, ""),
])
def test_id_number_shows_the_last_four_only(value, masked):
    assert script.last_four_only(value) == masked


def test_every_check_item_has_its_script():
    assert [item.key for item in script.SCRIPT] == list(CHECK_ITEMS)
    assert all(item.lines for item in script.SCRIPT)


def test_script_fills_the_facts_and_dashes_what_is_not_on_record():
    facts = {"firm_name": "示范证券股份有限公司", "customer_name": "张*", "honorific": script.honorific("F"),
             "id_type": "居民身份证", "channel_phrase": script.CHANNEL_PHRASES["witness"],
             "opening_date": "2026年12月1日", "branch_name": "北京朝阳门营业部"}
    filled = script.script_for(["identity", "channel_confirmed"], facts)
    assert list(filled) == ["identity", "channel_confirmed"]
    assert filled["identity"].lines[0] == "请问是张*女士本人吗？"
    assert "居民身份证号码的后四位" in filled["identity"].lines[1]
    assert dict(filled["identity"].confirm)["性别"] == "—"  # not given
    assert "见证人员" in filled["channel_confirmed"].lines[0] and "2026年12月1日" in filled["channel_confirmed"].lines[0]
    assert script.opening_line(facts).startswith("您好，我是示范证券股份有限公司的回访专员")
    assert script.honorific(None) == "先生/女士"
