"""One commit per request, only for a success: a refused request leaves nothing written."""
from flask import abort
from sqlalchemy import func, select

from app import create_app
from core import audit
from core.db import keep_refusal
from core.extensions import db
from core.models import AuditEvent
from core.security import any_staff
from tests.requests.helpers import login_as


def _events(app, action):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_only_a_success_commits_and_a_refusal_keeps_only_what_it_asks_for(app):
    probe = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key"})

    def wrote(status, keep=False):
        def view():
            audit.record(f"probe.{status}.{keep}", actor_name="probe")
            db.session.flush()
            if keep:
                keep_refusal()
            if status >= 400 and not keep:
                abort(status)
            return "", status
        return view

    for status, keep in ((200, False), (303, False), (403, False), (409, False), (422, False), (500, False),
                         (422, True)):
        # Declared for every role: an undeclared route is refused before its view (core.security).
        probe.add_url_rule(f"/probe/{status}/{keep}", f"probe_{status}_{keep}", any_staff(wrote(status, keep)))
    client = login_as(probe, "clerk").client
    for status, keep in ((200, False), (303, False), (403, False), (409, False), (422, False), (500, False),
                         (422, True)):
        assert client.get(f"/probe/{status}/{keep}").status_code == status
    assert _events(app, "probe.200.False") == 1 and _events(app, "probe.303.False") == 1
    for status in (403, 409, 422, 500):
        assert _events(app, f"probe.{status}.False") == 0, status
    assert _events(app, "probe.422.True") == 1


def test_a_wrong_password_is_counted_although_the_login_answers_422(app, auth):
    assert auth.login("clerk", "not-the-password").status_code == 422
    assert _events(app, "auth.login_failed") == 1
