"""Reminders on the home page: ID documents by expiry band, birthdays, paging, branch scope, permissions."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.reminders import registry
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import business_today
from tests.reminders.support import customer_with
from tests.requests.helpers import login_as


def counts(app, username: str, today: date) -> dict[str, int]:
    with app.app_context():
        user = db.session.scalar(select(Staff).where(Staff.username == username))
        return {r.key: r.count for r in registry.reminders_for(user, today)}


def rows(app, username: str, key: str, today: date, offset=0, limit=50):
    with app.app_context():
        user = db.session.scalar(select(Staff).where(Staff.username == username))
        return registry.source(key).rows(user, today, offset, limit)


def test_id_documents_fall_in_their_band_at_each_edge(app):
    today = business_today()
    for number, days in enumerate((-400, -1, 0, 30, 31, 60, 61, 90, 91), start=1):
        customer_with(app, number, valid_to=today + timedelta(days=days))
    customer_with(app, 20, valid_to=None)  # long-term
    found = counts(app, "clerk", today)
    assert found["id_expired"] == 2
    assert found["id_within_30"] == 2 and found["id_within_60"] == 2 and found["id_within_90"] == 2
    # Oldest expiry first: the most urgent at the top.
    assert [r.customer_no for r in rows(app, "clerk", "id_expired", today)] == ["R0101000001", "R0101000002"]
    assert [r.note for r in rows(app, "clerk", "id_within_30", today)] == ["今天到期", "30 天后到期"]


def test_only_the_current_document_counts(app):
    from blueprints.customers import services as customer_services
    from blueprints.customers.models import Customer

    today = business_today()
    number = customer_with(app, 1, valid_to=today - timedelta(days=5))
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == number))
        document = customer_services.current_id_document(customer.id)
        customer_services.add_id_document(customer, {"id_type": "resident_id", "id_number": document.id_number,
                                                     "name": document.name, "valid_from": today,
                                                     "valid_to": today + timedelta(days=3650)},
                                          source="change", actor=None)
        db.session.commit()
    assert counts(app, "clerk", today)["id_expired"] == 0


def test_birthdays_today_and_in_the_coming_days(app):
    today = date(2027, 3, 10)
    customer_with(app, 1, birth="19800310")
    customer_with(app, 2, birth="19850315")
    customer_with(app, 3, birth="19850312")
    customer_with(app, 4, birth="19850317")  # a week away: not yet
    customer_with(app, 5, birth="19850309")  # yesterday
    found = counts(app, "clerk", today)
    assert found["birthday_today"] == 1 and found["birthday_week"] == 2
    # Nearest first, whatever the customer number.
    assert [r.customer_no for r in rows(app, "clerk", "birthday_week", today)] == ["R0101000003", "R0101000002"]
    assert rows(app, "clerk", "birthday_today", today)[0].note == "今天生日"


def test_29_february_birthday_is_reminded_on_28_february_in_a_common_year(app):
    customer_with(app, 1, birth="19880229")
    assert counts(app, "clerk", date(2027, 2, 28))["birthday_today"] == 1
    assert counts(app, "clerk", date(2028, 2, 28))["birthday_today"] == 0
    assert counts(app, "clerk", date(2028, 2, 28))["birthday_week"] == 1
    assert counts(app, "clerk", date(2028, 2, 29))["birthday_today"] == 1


def test_staff_see_their_branch_and_hq_sees_all(app):
    today = business_today()
    customer_with(app, 1, valid_to=today - timedelta(days=3))
    customer_with(app, 2, valid_to=today - timedelta(days=3), branch_code="0201")
    assert counts(app, "clerk", today)["id_expired"] == 1
    assert counts(app, "clerk_sh", today)["id_expired"] == 1
    assert counts(app, "admin", today)["id_expired"] == 2
    assert [r.customer_no for r in rows(app, "clerk_sh", "id_expired", today)] == ["R0201000002"]


def test_closed_customers_are_not_reminded(app):
    today = business_today()
    customer_with(app, 1, valid_to=today - timedelta(days=3), kind="historical")
    assert counts(app, "admin", today)["id_expired"] == 0


def test_home_page_card_links_each_customer_and_masks_names(app):
    today = business_today()
    customer_with(app, 1, valid_to=today + timedelta(days=10), name="王小明")
    body = login_as(app, "clerk").get("/").get_data(as_text=True)
    card = body.split('id="reminders"')[1]
    assert 'id="reminder-id_within_30" data-count="1"' in card
    assert "/customers/R0101000001" in card and "王**" in card and "王小明" not in card
    assert "10 天后到期" in card
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reminders.view")) is not None


def test_nothing_due_says_so(app):
    body = login_as(app, "clerk").get("/").get_data(as_text=True)
    assert 'id="no-reminders"' in body


def test_list_is_paged_in_the_database(app):
    today = business_today()
    for number in range(1, 56):
        customer_with(app, number, valid_to=today - timedelta(days=number))
    client = login_as(app, "manager")
    first = client.get("/reminders/id_expired").get_data(as_text=True)
    assert "共 55 位" in first and "第 1 / 2 页" in first
    # Oldest first: customer 55 expired 55 days ago.
    assert first.index("R0101000055") < first.index("R0101000054")
    second = client.get("/reminders/id_expired?page=2").get_data(as_text=True)
    assert second.count("/customers/R0101") == 5 and "R0101000001" in second
    assert client.get("/reminders/id_expired?page=abc").status_code == 200


@pytest.mark.parametrize("username, status", [("archivist", 403), ("witness", 403), ("marketing", 403),
                                              ("clerk", 200), ("reviewer", 200), ("admin", 200)])
def test_list_needs_a_role_that_looks_after_customers(app, username, status):
    assert login_as(app, username).get("/reminders/id_expired").status_code == status


def test_list_needs_login_and_a_known_reminder(app, client):
    assert client.get("/reminders/id_expired").status_code in (302, 303)
    assert login_as(app, "clerk").get("/reminders/nonsense").status_code == 404


def test_roles_without_customers_get_no_card(app):
    assert 'id="reminders"' not in login_as(app, "archivist").get("/").get_data(as_text=True)


def test_another_package_adds_its_reminder(app):
    class Complaints:
        key, title, severity = "test_complaints", "投诉待处理", "warning"

        def count(self, user, today, cap=None):
            return 1

        def rows(self, user, today, offset, limit):
            return [registry.ReminderRow("R0101000001", "张三", today, "超时")]

        def for_customer(self, customer, today):
            return None

    registry.register(Complaints())
    try:
        body = login_as(app, "clerk").get("/").get_data(as_text=True)
        assert 'id="reminder-test_complaints" data-count="1"' in body and "投诉待处理" in body
    finally:
        registry._SOURCES.pop("test_complaints")


def test_card_count_stops_at_the_cap(app, monkeypatch):
    today = business_today()
    for number in range(1, 5):
        customer_with(app, number, valid_to=today - timedelta(days=number))
    monkeypatch.setattr(registry, "CARD_COUNT_CAP", 3)
    body = login_as(app, "clerk").get("/").get_data(as_text=True)
    assert 'id="reminder-id_expired" data-count="3"' in body and "3+" in body
    # The full list still counts them all.
    assert "共 4 位" in login_as(app, "clerk").get("/reminders/id_expired").get_data(as_text=True)
