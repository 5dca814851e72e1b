"""The whole wizard through the test client, from channel to submission."""
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from core.extensions import db
from tests import factories


def clerk_id(app):
    with app.app_context():
        return db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))


def test_clerk_walks_the_wizard_and_submits(app, auth):
    assert auth.login().status_code == 303
    reference = factories.start(auth)
    factories.walk(auth, reference, "summary", clerk_id(app))
    summary = auth.get(factories.step_url(reference, "summary"))
    assert summary.status_code == 200
    assert "关键信息一致性校验通过" in summary.get_data(as_text=True)
    response = auth.post(factories.step_url(reference, "summary"), {})
    assert response.status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        assert application.status == "submitted"
