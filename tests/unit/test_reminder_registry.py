"""The reminder registry without an app: the card's order by severity, a source's unit and its prepare hook."""
from datetime import date

import pytest

from blueprints.reminders import registry


class Source:
    def __init__(self, key, severity, count=1, unit=None):
        self.key, self.title, self.severity, self._count = key, key, severity, count
        self.prepared = []
        if unit:
            self.unit = unit

    def count(self, user, today, cap=None):
        return self._count

    def rows(self, user, today, offset, limit):
        return [registry.ReminderRow("C1", "张三", today)]

    def for_customer(self, customer, today):
        return None


@pytest.fixture
def sources(monkeypatch):
    monkeypatch.setattr(registry, "_SOURCES", {})
    return [registry.register(item) for item in (Source("birthdays", "info"), Source("due", "warning", unit="项"),
                                                 Source("expired", "danger"), Source("overdue", "danger"))]


def test_the_most_severe_come_first_in_the_order_they_were_registered(sources):
    assert [item.key for item in registry.sources()] == ["expired", "overdue", "due", "birthdays"]
    found = registry.reminders_for(object(), date(2026, 12, 2))
    assert [r.key for r in found] == ["expired", "overdue", "due", "birthdays"]
    assert {r.key: r.unit for r in found} == {"expired": "位", "overdue": "位", "due": "项", "birthdays": "位"}


def test_a_source_is_prepared_before_it_is_counted(sources):
    calls = []
    sources[1].prepare = lambda user, today: calls.append(today)
    registry.reminders_for(object(), date(2026, 12, 2))
    assert calls == [date(2026, 12, 2)]
