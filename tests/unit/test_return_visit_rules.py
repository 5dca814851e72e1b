"""Return-visit rules and script without an app: where an account goes, rounds, the text read aloud."""
import pytest

from blueprints.opening.workflow import Status
from blueprints.return_visit import rules, script
from blueprints.return_visit.models import CHECK_ITEMS
from blueprints.return_visit.rules import Outcome


@pytest.mark.parametrize("outcome, attempts_in_round, max_attempts, expected", [
    (Outcome.PASSED, 1, 3, Status.ACTIVE),
    (Outcome.PASSED, 3, 3, Status.ACTIVE),
    (Outcome.FAILED, 1, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.REFUSED, 2, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.NOT_REACHED, 2, 3, Status.AWAITING_RETURN_VISIT),
    (Outcome.FAILED, 3, 3, Status.INACTIVE),
    (Outcome.REFUSED, 3, 3, Status.INACTIVE),
    (Outcome.NOT_REACHED, 3, 3, Status.INACTIVE),
    (Outcome.NOT_REACHED, 5, 3, Status.INACTIVE),  # the setting lowered while a round ran
    (Outcome.NOT_REACHED, 1, 1, Status.INACTIVE),
])
def test_status_after_a_call(outcome, attempts_in_round, max_attempts, expected):
    assert rules.status_after(outcome, attempts_in_round, max_attempts) == expected


def test_every_unsuccessful_outcome_counts_and_only_passed_activates():
    assert {o for o in Outcome if rules.status_after(o, 1, 1) == Status.INACTIVE} == set(Outcome) - {Outcome.PASSED}


@pytest.mark.parametrize("entries, round_no", [(0, 1), (1, 1), (2, 2), (5, 5)])
def test_round_is_how_often_the_account_entered_the_queue(entries, round_no):
    assert rules.round_of(entries) == round_no


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
