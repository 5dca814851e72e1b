"""Time helpers: UTC storage, Beijing time for business dates."""
from datetime import date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    """Naive UTC timestamp, the one form stored in every database column."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def business_today() -> date:
    """Today's date in Beijing, which decides expiry and age."""
    return datetime.now(BEIJING).date()


def to_beijing(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(BEIJING)


def beijing_day_start(day: date) -> datetime:
    """Midnight in Beijing of `day`, as the naive UTC the database stores (where a day's rows begin)."""
    return datetime.combine(day, time.min, BEIJING).astimezone(timezone.utc).replace(tzinfo=None)
