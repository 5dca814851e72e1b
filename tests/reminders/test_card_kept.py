"""The home page's reminder card is kept per staff member: counted again after REMINDER_CARD_SECONDS, on
another day, after a change of role or branch, on 刷新, and at once after the staff member's own changes."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from blueprints.auth.models import Branch, Staff
from blueprints.reminders import registry
from blueprints.reminders.models import ReminderCard
from core.extensions import db
from core.timeutil import business_today, utcnow
from tests.reminders.support import customer_with
from tests.reminders.test_reminders_card import _consultation, _demo_assigned_on
from tests.requests.helpers import login_as, staff_id
from tests.service.helpers import set_today


def _count(body: str, key: str) -> int:
    found = re.search(rf'id="reminder-{key}" data-count="(\d+)"', body)
    return int(found.group(1)) if found else 0


def _home(auth) -> str:
    response = auth.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _age_card(app, username: str, seconds: int) -> None:
    with app.app_context():
        db.session.execute(update(ReminderCard).where(ReminderCard.staff_id == staff_id(app, username))
                           .values(counted_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def test_the_card_is_kept_until_it_is_older_than_its_time_and_says_when_it_was_counted(app, monkeypatch):
    expired = business_today() - timedelta(days=3)
    customer_with(app, 1, valid_to=expired)
    clerk = login_as(app, "clerk")  # lands on the home page: the card is counted there
    counted = []
    real = registry.reminders_for
    monkeypatch.setattr(registry, "reminders_for", lambda *a, **k: counted.append(1) or real(*a, **k))
    first = _home(clerk)
    assert _count(first, "id_expired") == 1 and 'id="reminders-counted"' in first and "统计于" in first
    # Someone else's change: the clerk's card stays as counted, without counting again.
    customer_with(app, 2, valid_to=expired)
    assert _count(_home(clerk), "id_expired") == 1 and not counted
    _age_card(app, "clerk", app.config["REMINDER_CARD_SECONDS"] - 5)
    assert _count(_home(clerk), "id_expired") == 1 and not counted
    _age_card(app, "clerk", app.config["REMINDER_CARD_SECONDS"] + 1)
    assert _count(_home(clerk), "id_expired") == 2 and len(counted) == 1
    # The full list behind the card is always counted live.
    customer_with(app, 3, valid_to=expired)
    assert "共 3 位" in clerk.get("/reminders/id_expired").get_data(as_text=True)


def test_the_kept_card_names_no_customer_in_the_clear(app):
    customer_with(app, 1, valid_to=business_today() - timedelta(days=3), name="欧阳明月")
    _home(login_as(app, "clerk"))
    with app.app_context():
        stored = db.session.execute(text("SELECT reminders FROM reminder_card")).scalars().all()
    assert stored and not any("欧阳明月" in row or "R0101000001" in row for row in stored)


def test_the_staff_members_own_change_shows_on_their_card_at_once(app, monkeypatch):
    today = _demo_assigned_on(app)
    set_today(monkeypatch, today)
    owner = login_as(app, "cmanager")
    assert _count(_home(owner), "follow_ups_due") == 0
    assert _consultation(owner, today + timedelta(days=1)).status_code == 303
    assert _count(_home(owner), "follow_ups_due") == 1


def test_a_refused_request_leaves_the_card_as_it_was(app, monkeypatch):
    today = _demo_assigned_on(app)
    set_today(monkeypatch, today)
    owner = login_as(app, "cmanager")
    _home(owner)
    with app.app_context():
        before = db.session.scalar(select(ReminderCard.counted_at).where(ReminderCard.staff_id == staff_id(app, "cmanager")))
    # A follow-up date in the past is refused next to its field: nothing written, the card kept.
    response = _consultation(owner, today - timedelta(days=1))
    assert response.status_code == 422
    with app.app_context():
        after = db.session.scalar(select(ReminderCard.counted_at).where(ReminderCard.staff_id == staff_id(app, "cmanager")))
    assert after == before


def test_another_day_or_another_branch_counts_the_card_again(app, monkeypatch):
    today = business_today()
    customer_with(app, 1, valid_to=today + timedelta(days=3))
    clerk = login_as(app, "clerk")
    assert _count(_home(clerk), "id_within_30") == 1
    # Four days on the document has expired: the card is counted for the new day.
    set_today(monkeypatch, today + timedelta(days=4))
    assert _count(_home(clerk), "id_expired") == 1
    monkeypatch.undo()
    with app.app_context():
        shanghai = db.session.scalar(select(Branch.id).where(Branch.code == "0201"))
        db.session.execute(update(Staff).where(Staff.username == "clerk").values(branch_id=shanghai))
        db.session.commit()
    body = _home(clerk)
    assert _count(body, "id_within_30") == 0 and _count(body, "id_expired") == 0


def test_refresh_counts_again_and_answers_the_card_alone(app):
    expired = business_today() - timedelta(days=3)
    clerk = login_as(app, "clerk")
    assert _count(_home(clerk), "id_expired") == 0
    customer_with(app, 1, valid_to=expired)
    assert _count(_home(clerk), "id_expired") == 0
    response = clerk.get("/reminders/card", htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="reminders"' in body and "<html" not in body
    assert _count(body, "id_expired") == 1
    assert _count(_home(clerk), "id_expired") == 1
    # Without htmx (a link opened on its own) it counts and goes back to the home page.
    plain = clerk.get("/reminders/card")
    assert plain.status_code in (302, 303) and plain.headers["Location"].endswith("/")


def test_refresh_is_for_the_roles_that_see_the_card(app):
    assert login_as(app, "archivist").get("/reminders/card", htmx=True).status_code == 403
    assert app.test_client().get("/reminders/card").status_code in (302, 401)


def test_a_kept_card_is_read_without_the_write_lock_and_counting_one_takes_it(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock taken up front is SQLite's (BEGIN IMMEDIATE)")
    from sqlalchemy import event

    clerk = login_as(app, "clerk")  # counted on landing
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda conn, cursor, statement, *rest: statements.append(statement.split("(")[0].strip())  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        _home(clerk)
        kept = list(statements)
        _age_card(app, "clerk", app.config["REMINDER_CARD_SECONDS"] + 1)
        statements.clear()
        _home(clerk)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # Kept: the page is read without a lock; only its audit row is written, after the read.
    assert kept[0] == "BEGIN"
    # (and the audit chain's head that the row is chained to).
    assert {s for s in kept[kept.index("BEGIN IMMEDIATE") + 1:] if not s.startswith("SELECT audit_event.seq")} \
        == {"INSERT INTO audit_event"}
    # Counted again: the read turns into a write before it counts and keeps the card.
    written = statements[statements.index("BEGIN IMMEDIATE") + 1:]
    assert statements[0] == "BEGIN" and "INSERT INTO reminder_card" in written
