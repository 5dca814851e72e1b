"""The reminder sources other packages register (service records, complaints, handovers add theirs).

A source answers three questions for a staff member, each in the database: how many customers it
reminds of, one page of them (most urgent first), and whether one given customer is among them.
A source may also bring its state up to date before it is counted (`prepare(user, today)`:
overdue complaints are escalated when a manager reads them). The card shows the sources by
severity, the most urgent first.
"""
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from core.timeutil import business_today

CARD_ROWS = 5
# The card counts up to this many per reminder, so it costs the same at a million customers.
CARD_COUNT_CAP = 1000
# The card's order: the most urgent group first.
SEVERITY_ORDER = {"danger": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class ReminderRow:
    """One customer in a reminder: who, and the date that makes it urgent (expiry, birthday, deadline).

    `href` is where the reminder is handled when that is not the customer page (a service record,
    a handover); `label` names the thing to handle (a record's reference and subject).
    """

    customer_no: str
    name: str
    on: date | None
    note: str = ""
    href: str = ""
    label: str = ""


@dataclass(frozen=True)
class Reminder:
    """What the home page shows of one source: its count and its first rows."""

    key: str
    title: str
    count: int
    rows: list[ReminderRow] = field(default_factory=list)
    severity: str = "info"  # info, warning, danger
    capped: bool = False  # the count stopped at CARD_COUNT_CAP: there are at least that many
    unit: str = "位"  # what is counted: customers (位), or records and handovers (项)


class ReminderSource(Protocol):
    key: str
    title: str
    severity: str

    def count(self, user, today: date, cap: int | None = None) -> int: ...

    def rows(self, user, today: date, offset: int, limit: int) -> list[ReminderRow]: ...

    def for_customer(self, customer, today: date) -> ReminderRow | None: ...


_SOURCES: dict[str, ReminderSource] = {}


def business_day() -> date:
    """The day reminders are read on (Beijing); one place, so tests can move it."""
    return business_today()


def register(source: ReminderSource) -> ReminderSource:
    """Add a source; registering the same key again replaces it (a module imported twice)."""
    _SOURCES[source.key] = source
    return source


def sources() -> list[ReminderSource]:
    """Every source, the most severe first (registration order within a severity)."""
    return sorted(_SOURCES.values(), key=lambda item: SEVERITY_ORDER.get(item.severity, len(SEVERITY_ORDER)))


def unit_of(item: ReminderSource) -> str:
    """What a source counts: customers unless it says otherwise (`unit = "项"`)."""
    return getattr(item, "unit", "位")


def prepare(item: ReminderSource, user, today: date) -> None:
    """Let a source bring its state up to date before it is counted (most need nothing)."""
    hook = getattr(item, "prepare", None)
    if hook is not None:
        hook(user, today)


def source(key: str) -> ReminderSource | None:
    return _SOURCES.get(key)


def reminders_for(user, today: date | None = None, rows: int = CARD_ROWS) -> list[Reminder]:
    """Every source's count for `user` and, where there is any, its first `rows` customers."""
    today = today or business_day()
    found = []
    for item in sources():
        prepare(item, user, today)
        count = item.count(user, today, cap=CARD_COUNT_CAP)
        found.append(Reminder(item.key, item.title, count, item.rows(user, today, 0, rows) if count else [],
                              item.severity, capped=count >= CARD_COUNT_CAP, unit=unit_of(item)))
    return found


def for_customer(customer, today: date | None = None) -> list[tuple[ReminderSource, ReminderRow]]:
    """The reminders that concern one customer (the customer page's own section)."""
    today = today or business_day()
    found = []
    for item in sources():
        row = item.for_customer(customer, today)
        if row is not None:
            found.append((item, row))
    return found
