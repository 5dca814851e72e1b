"""Reminder and ID-expiry rules: expiry bands at their edges, birthdays (29 February), the grace period."""
from datetime import date, timedelta

import pytest

from blueprints.id_expiry import rules as expiry
from blueprints.reminders import rules

TODAY = date(2027, 3, 10)


@pytest.mark.parametrize("days, band", [
    (-1, "expired"), (0, "within_30"), (30, "within_30"), (31, "within_60"), (60, "within_60"),
    (61, "within_90"), (90, "within_90"), (91, None),
])
def test_id_band_edges(days, band):
    assert rules.id_band(TODAY + timedelta(days=days), TODAY) == band


def test_long_term_document_is_never_reminded():
    assert rules.id_band(None, TODAY) is None


@pytest.mark.parametrize("days, low, high", [(30, 0, 30), (60, 31, 60), (90, 61, 90)])
def test_band_ranges_meet_without_overlap(days, low, high):
    assert rules.band_range(days, TODAY) == (TODAY + timedelta(days=low), TODAY + timedelta(days=high))


def test_month_day_is_index_friendly():
    assert rules.month_day(date(1988, 6, 2)) == "0602"
    assert rules.month_day(None) is None


def test_birthdays_of_a_week_carry_their_offset_across_the_new_year():
    found = rules.birthday_month_days(date(2026, 12, 29), 7)
    assert found == {"1229": 0, "1230": 1, "1231": 2, "0101": 3, "0102": 4, "0103": 5, "0104": 6}


def test_29_february_is_celebrated_on_28_february_without_a_leap_day():
    assert rules.birthday_month_days(date(2027, 2, 28), 1) == {"0228": 0, "0229": 0}
    # In a leap year the day itself comes.
    assert rules.birthday_month_days(date(2028, 2, 28), 1) == {"0228": 0}
    assert rules.birthday_month_days(date(2028, 2, 28), 2) == {"0228": 0, "0229": 1}


@pytest.mark.parametrize("expired_days_ago, due", [(0, False), (30, False), (31, True), (400, True)])
def test_restriction_starts_the_day_after_the_grace_period(expired_days_ago, due):
    valid_to = TODAY - timedelta(days=expired_days_ago)
    assert expiry.restriction_due(valid_to, TODAY, 30) is due
    assert (valid_to <= expiry.latest_valid_to_restricted(TODAY, 30)) is due


def test_long_term_document_never_restricts():
    assert not expiry.restriction_due(None, TODAY, 30)
    assert expiry.document_valid(None, TODAY) and expiry.document_valid(TODAY, TODAY)
    assert not expiry.document_valid(TODAY - timedelta(days=1), TODAY)
