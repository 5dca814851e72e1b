"""Moments for tests that need a weekday or a weekend: always ahead of the real clock.

Records made during a test carry the real time; a test that delivers them "on Saturday" must pick a
Saturday after that, or they are not yet due and the test depends on the day it runs.
"""
from datetime import datetime, time, timedelta

from core.timeutil import utcnow


def ahead(weekday: int, hour: int, minute: int = 0) -> datetime:
    """Naive UTC: the first `weekday` (Monday 0) at least a week from now, at hour:minute UTC."""
    day = utcnow().date() + timedelta(days=7)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime.combine(day, time(hour, minute))
