"""Complaint deadlines on working days, extensions, 回避 and 首办负责制, closing, and handover rules."""
from datetime import date

import pytest

from blueprints.managers import rules as handover_rules
from blueprints.service import rules
from blueprints.service.rules import Calendar, Deadlines, ServiceRefused, Urgency

SETTINGS = Deadlines(first_contact_working_days=1, resolution_days={Urgency.GENERAL: 15, Urgency.IMPORTANT: 10,
                                                                    Urgency.URGENT: 5},
                     extension_days=15, max_extensions=1)
# 2026-10-01..07 National Day holiday; Sunday 2026-10-11 a weekend workday (调休), as a calendar would set them.
NATIONAL_DAY = Calendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                        workdays=frozenset({date(2026, 10, 11)}))


@pytest.mark.parametrize("received, due", [
    (date(2026, 12, 1), date(2026, 12, 2)),   # Tuesday → Wednesday
    (date(2026, 12, 4), date(2026, 12, 7)),   # Friday → Monday
    (date(2026, 12, 5), date(2026, 12, 7)),   # Saturday → Monday
])
def test_first_contact_is_one_working_day_after_reception(received, due):
    assert rules.first_contact_due(received, SETTINGS, Calendar()) == due


def test_configured_holidays_are_skipped_and_weekend_workdays_count():
    assert rules.first_contact_due(date(2026, 9, 30), SETTINGS, NATIONAL_DAY) == date(2026, 10, 8)
    assert rules.first_contact_due(date(2026, 10, 10), SETTINGS, NATIONAL_DAY) == date(2026, 10, 11)
    assert NATIONAL_DAY.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 8)


@pytest.mark.parametrize("urgency, due", [(Urgency.GENERAL, date(2026, 12, 16)), (Urgency.IMPORTANT, date(2026, 12, 11)),
                                          (Urgency.URGENT, date(2026, 12, 6))])
def test_resolution_deadline_is_shorter_the_more_urgent(urgency, due):
    assert rules.resolution_due(date(2026, 12, 1), urgency, SETTINGS) == due


def test_overdue_counts_a_missed_first_contact_and_a_missed_resolution():
    facts = dict(closed=False, first_contact_due=date(2026, 12, 2), resolution_due=date(2026, 12, 16))
    assert rules.overdue_reasons(first_contacted=False, today=date(2026, 12, 2), **facts) == []
    assert len(rules.overdue_reasons(first_contacted=False, today=date(2026, 12, 3), **facts)) == 1
    assert rules.overdue_reasons(first_contacted=True, today=date(2026, 12, 3), **facts) == []
    assert len(rules.overdue_reasons(first_contacted=False, today=date(2026, 12, 17), **facts)) == 2
    assert rules.overdue_reasons(first_contacted=False, today=date(2027, 1, 1), **{**facts, "closed": True}) == []


def test_an_extension_needs_a_reason_and_is_bounded():
    with pytest.raises(ServiceRefused, match="原因"):
        rules.check_extension(reason="  ", extensions_so_far=0, settings=SETTINGS, closed=False)
    rules.check_extension(reason="需调取交易记录", extensions_so_far=0, settings=SETTINGS, closed=False)
    with pytest.raises(ServiceRefused, match="上限"):
        rules.check_extension(reason="再次延期", extensions_so_far=1, settings=SETTINGS, closed=False)


def test_the_complained_about_staff_never_handles_and_the_first_handler_keeps_it():
    assert "回避" in rules.handler_refusal(handler_id=7, complained_staff_id=7, current_handler_id=None)
    assert rules.handler_refusal(handler_id=8, complained_staff_id=7, current_handler_id=None) is None
    assert "首办" in rules.handler_refusal(handler_id=9, complained_staff_id=7, current_handler_id=8)


def test_closing_a_complaint_needs_the_customers_feedback():
    base = dict(is_complaint=True, outcome="已解释并更正", feedback_text="", handler_id=3)
    assert rules.closing_refusal(feedback=None, **base)[0] == "feedback"
    assert rules.closing_refusal(feedback="not_satisfied", **base)[0] == "feedback_text"
    assert rules.closing_refusal(feedback="satisfied", **base) is None
    assert rules.closing_refusal(**{**base, "outcome": ""}, feedback="satisfied")[0] == "outcome"
    assert rules.closing_refusal(is_complaint=False, outcome="已答复", feedback=None, feedback_text="", handler_id=None) is None


def test_a_handover_reviewer_is_neither_the_one_handing_over_nor_the_requester():
    assert handover_rules.reviewer_refusal(reviewer_id=1, requested_by_id=2, from_staff_id=1)
    assert handover_rules.reviewer_refusal(reviewer_id=2, requested_by_id=2, from_staff_id=1)
    assert handover_rules.reviewer_refusal(reviewer_id=3, requested_by_id=2, from_staff_id=1) is None


def test_a_departure_is_shared_out_in_turn():
    assert handover_rules.split_among([1, 2, 3, 4, 5], [10, 20]) == {1: 10, 2: 20, 3: 10, 4: 20, 5: 10}


def test_effective_date_is_today_or_later_and_assignments_end_the_day_before_their_end():
    today = date(2026, 12, 2)
    assert handover_rules.check_effective_date(date(2026, 12, 1), today)
    assert handover_rules.check_effective_date(today, today) is None
    assert handover_rules.is_current(date(2026, 1, 1), date(2026, 12, 2), date(2026, 12, 1))
    assert not handover_rules.is_current(date(2026, 1, 1), date(2026, 12, 2), date(2026, 12, 2))


def test_a_complaint_moves_to_another_handler_only_with_a_reason_and_never_to_the_complained_about():
    base = dict(complained_staff_id=7, current_handler_id=8)
    assert rules.reassignment_refusal(handler_id=9, reason="", **base)[0] == "reason"
    assert rules.reassignment_refusal(handler_id=7, reason="调岗", **base)[0] == "handler"
    assert rules.reassignment_refusal(handler_id=8, reason="调岗", **base)[0] == "handler"
    assert rules.reassignment_refusal(handler_id=9, reason="调岗", complained_staff_id=7, current_handler_id=None)[0] == "handler"
    assert rules.reassignment_refusal(handler_id=9, reason="调岗", **base) is None
