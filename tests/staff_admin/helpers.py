"""Helpers of the staff administration tests."""
import re

from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from core.extensions import db
from core.models import AuditEvent
from tests.conftest import Auth, csrf_token_from


def staff(app, username):
    with app.app_context():
        found = db.session.scalar(select(Staff).where(Staff.username == username))
        db.session.expunge_all()
        return found


def branch_id(app, code):
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


def audits(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def temporary_password_in(response) -> str:
    match = re.search(r'id="temporary-password"[^>]*>([^<]+)<', response.get_data(as_text=True))
    assert match, "no temporary password on the page"
    return match.group(1).strip()


def fresh_login(app, username, password) -> Auth:
    """Log in from a new browser, landing wherever the app sends the user (the change page, perhaps)."""
    auth = Auth(app.test_client())
    auth.token = csrf_token_from(auth.client.get("/auth/login").get_data(as_text=True))
    response = auth.client.post("/auth/login", data={"username": username, "password": password,
                                                     "csrf_token": auth.token})
    assert response.status_code == 303, response.status_code
    landing = auth.client.get("/", follow_redirects=True)
    auth.token = csrf_token_from(landing.get_data(as_text=True))
    auth.landing = landing
    return auth


def version_of(app, username) -> int:
    return staff(app, username).admin_version
