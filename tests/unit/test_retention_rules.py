"""Retention: twenty years from closure by record kind, never a day early, and a legal hold blocks."""
from datetime import date

import pytest

from blueprints.retention.rules import RecordKind, add_years, decide, due_date

CLOSED = date(2026, 6, 30)


def test_the_file_is_kept_twenty_years_from_closure():
    assert due_date(CLOSED) == date(2046, 6, 30)


def test_identity_data_alone_is_kept_five_years_but_the_file_keeps_the_longest():
    assert due_date(CLOSED, {RecordKind.IDENTITY}) == date(2031, 6, 30)
    assert due_date(CLOSED, {RecordKind.IDENTITY, RecordKind.SUITABILITY}) == date(2046, 6, 30)


def test_a_leap_day_closure_is_never_purged_a_day_early():
    assert add_years(date(2024, 2, 29), 20) == date(2044, 2, 29)
    assert add_years(date(2028, 2, 29), 5) == date(2033, 3, 1)


@pytest.mark.parametrize("cutoff, purge", [
    (date(2046, 6, 29), False),
    (date(2046, 6, 30), True),
    (date(2050, 1, 1), True),
])
def test_a_closed_customer_is_due_on_the_day_the_term_ends(cutoff, purge):
    decision = decide(CLOSED, "historical", False, None, cutoff)
    assert decision.purge is purge and decision.due_on == date(2046, 6, 30)
    assert ("保管期限已满" if purge else "保管至 2046-06-30") in decision.reason


def test_a_legal_hold_blocks_a_due_purge_and_says_why():
    decision = decide(CLOSED, "historical", True, "诉讼保全（2046）京01民初123号", date(2050, 1, 1))
    assert not decision.purge and decision.reason == "法律保全中：诉讼保全（2046）京01民初123号"


@pytest.mark.parametrize("kind, closed_on, reason", [
    ("current", None, "客户未销户"),
    ("current", CLOSED, "客户未销户"),  # closed once, opened again: the clock stopped
    ("historical", None, "客户未销户"),
    ("merged", CLOSED, "已合并"),
])
def test_only_a_closed_customer_has_a_due_date(kind, closed_on, reason):
    decision = decide(closed_on, kind, False, None, date(2099, 1, 1))
    assert not decision.purge and reason in decision.reason
