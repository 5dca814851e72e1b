"""Fixtures for account opening: a submitted application and its approval."""
import pytest
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from core.extensions import db
from tests import factories


@pytest.fixture
def staff_id(app):
    def lookup(username: str) -> int:
        with app.app_context():
            return db.session.scalar(select(Staff.id).where(Staff.username == username))
    return lookup


@pytest.fixture
def submitted(app, auth, staff_id):
    """Return a callable that submits a fresh application and gives its reference."""
    auth.login()
    counter = iter(range(1, 1000))

    def make(identity: dict | None = None) -> str:
        reference = factories.start(auth, token=f"acct-{next(counter)}")
        overrides = {"identity": identity} if identity else {}
        factories.walk_with(auth, reference, "summary", staff_id("clerk"), **overrides)
        response = auth.post(factories.step_url(reference, "summary"))
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return reference
    return make


@pytest.fixture
def approve(app):
    """Approve an application as the demo reviewer, committed like a request would."""
    from blueprints.review import services as review

    def run(reference: str) -> None:
        with app.app_context():
            application = db.session.scalar(select(Application).where(Application.reference == reference))
            reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
            review.approve(application, reviewer, reviewer)
            db.session.commit()
    return run


@pytest.fixture
def app_row(app):
    def read(reference: str) -> Application:
        with app.app_context():
            application = db.session.scalar(select(Application).where(Application.reference == reference))
            db.session.expunge(application)
            return application
    return read


@pytest.fixture
def stage(app):
    """Where an application's opening stands after approval (accounts, then the return visit)."""
    from blueprints.opening import progress

    def read(reference: str) -> str:
        with app.app_context():
            application = db.session.scalar(select(Application).where(Application.reference == reference))
            return progress.of_one(application).key
    return read
