"""Pure rules of the reminders: expiry bands, birthday month-days (29 February included)."""
import calendar
from datetime import date, timedelta

# An ID document expiring within one of these many days is reminded of, nearest band first.
ID_BANDS = (30, 60, 90)
ASSESSMENT_DAYS = 30
BIRTHDAY_WEEK_DAYS = 7


def month_day(day: date | None) -> str | None:
    """The index-friendly form of a birth date: "MMDD" (0612 for 12 June)."""
    return None if day is None else f"{day.month:02d}{day.day:02d}"


def birthday_month_days(start: date, days: int) -> dict[str, int]:
    """The month-days whose birthday falls in the `days` days from `start`, each with its offset.

    Someone born on 29 February celebrates on 28 February in a year without one.
    """
    found: dict[str, int] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        found.setdefault(month_day(day), offset)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            found.setdefault("0229", offset)
    return found


def id_band(valid_to: date | None, today: date) -> str | None:
    """Which reminder an ID document valid until `valid_to` is in: expired, id_30, id_60, id_90 or none."""
    if valid_to is None:
        return None  # long-term (长期)
    if valid_to < today:
        return "expired"
    left = (valid_to - today).days
    for days in ID_BANDS:
        if left <= days:
            return f"within_{days}"
    return None


def band_range(days: int, today: date) -> tuple[date, date]:
    """The valid_to dates of one band, inclusive: within 30 days is today…today+30, within 60 is +31…+60."""
    previous = 0
    for band in ID_BANDS:
        if band == days:
            return today + timedelta(days=previous + (1 if previous else 0)), today + timedelta(days=band)
        previous = band
    raise ValueError(days)
