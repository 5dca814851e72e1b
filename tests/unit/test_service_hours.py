"""A simulated service's opening hours: weekdays between two Beijing times."""
from datetime import datetime, timedelta

import pytest

from blueprints.accounts.simulation import ServiceHours
from core.outbox import OutsideServiceHours, TransientError

HOURS = ServiceHours("09:00-16:00")


def utc(beijing: str) -> datetime:
    """Naive UTC for a Beijing wall-clock time "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(beijing, "%Y-%m-%d %H:%M") - timedelta(hours=8)


@pytest.mark.parametrize("beijing, open_", [
    ("2026-12-02 09:00", True),   # Wednesday, opening minute
    ("2026-12-02 15:59", True),
    ("2026-12-02 16:00", False),  # closing time is closed
    ("2026-12-02 08:59", False),
    ("2026-12-04 12:00", True),   # Friday
    ("2026-12-05 12:00", False),  # Saturday
    ("2026-12-06 12:00", False),  # Sunday
])
def test_is_open(beijing, open_):
    assert HOURS.is_open(utc(beijing)) is open_


@pytest.mark.parametrize("beijing, opens", [
    ("2026-12-02 07:30", "2026-12-02 09:00"),  # before opening: today
    ("2026-12-02 16:00", "2026-12-03 09:00"),  # after closing: tomorrow
    ("2026-12-02 23:59", "2026-12-03 09:00"),
    ("2026-12-04 17:00", "2026-12-07 09:00"),  # Friday evening: Monday
    ("2026-12-05 10:00", "2026-12-07 09:00"),  # Saturday
    ("2026-12-06 08:00", "2026-12-07 09:00"),  # Sunday morning
    ("2026-12-07 00:30", "2026-12-07 09:00"),  # Monday just after midnight (Sunday in UTC)
])
def test_next_open(beijing, opens):
    assert HOURS.next_open(utc(beijing)) == utc(opens)


def test_next_open_while_open_is_now():
    now = utc("2026-12-02 10:00")
    assert HOURS.next_open(now) == now


def test_check_raises_a_transient_error_carrying_the_opening_time():
    with pytest.raises(OutsideServiceHours) as raised:
        HOURS.check("中国结算", utc("2026-12-05 10:00"))
    assert isinstance(raised.value, TransientError)
    assert raised.value.next_open == utc("2026-12-07 09:00")
    assert "中国结算未在服务时间" in str(raised.value) and "12-07 09:00" in str(raised.value)
    HOURS.check("中国结算", utc("2026-12-07 09:00"))  # open: nothing raised


@pytest.mark.parametrize("spec", ["9-16", "09:00", "16:00-09:00", "09:00-09:00", "25:00-26:00"])
def test_a_malformed_spec_is_refused(spec):
    with pytest.raises(ValueError):
        ServiceHours(spec)
