"""The login throttle's waits and the session timeouts, without an app."""
from datetime import datetime, timedelta

import pytest

from blueprints.auth.rules import ACCOUNT, MAX_DELAY, SOURCE, delay_after, lapse_of, wait_in_words

T0 = datetime(2026, 12, 4, 9, 0)
IDLE, ABSOLUTE = timedelta(minutes=20), timedelta(hours=12)


def test_the_first_failures_cost_nothing_then_each_doubles_the_wait():
    waits = [delay_after(n, ACCOUNT).total_seconds() for n in range(1, 8)]
    assert waits == [0, 0, 2, 4, 8, 16, 32]


def test_a_source_address_gets_more_free_failures_than_an_account():
    assert SOURCE.free > ACCOUNT.free
    assert delay_after(SOURCE.free - 1, SOURCE) == timedelta(0) < delay_after(SOURCE.free, SOURCE)


@pytest.mark.parametrize("failures", [12, 13, 50, 10_000])
def test_no_wait_is_longer_than_the_cap(failures):
    assert delay_after(failures, ACCOUNT) == MAX_DELAY == timedelta(minutes=15)


@pytest.mark.parametrize("seconds, words", [(1, "1 秒"), (59, "59 秒"), (60, "1 分钟"), (61, "2 分钟"), (900, "15 分钟")])
def test_waits_are_said_in_seconds_or_whole_minutes(seconds, words):
    assert wait_in_words(seconds) == words


@pytest.mark.parametrize("created, seen, lapse", [
    (T0, T0 + timedelta(hours=1), None),
    (T0, T0 + timedelta(hours=1) - IDLE, None),
    (T0, T0 + timedelta(hours=1) - IDLE - timedelta(seconds=1), "idle"),
    (T0 - ABSOLUTE + timedelta(hours=1), T0 + timedelta(hours=1), "absolute"),
    (T0 - ABSOLUTE, T0, "absolute"),  # both: the absolute limit is what the staff member is told
])
def test_a_session_lapses_when_idle_or_too_old(created, seen, lapse):
    assert lapse_of(created, seen, T0 + timedelta(hours=1), IDLE, ABSOLUTE) == lapse
