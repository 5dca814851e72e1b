"""An active customer with a full record, for archive tests."""
import pytest
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from blueprints.return_visit import services as return_visit
from blueprints.review import services as review
from core import outbox
from core.extensions import db
from tests import factories


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "FILE_STORE", str(tmp_path / "files"))
    return tmp_path / "files"


@pytest.fixture
def active_customer(app, auth, file_store):
    """Submit, approve, open accounts and pass the return visit; return the customer number."""
    auth.login()
    with app.app_context():
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
    reference = factories.start(auth, token="archive-1")
    factories.walk_with(auth, reference, "summary", clerk_id, identity=factories.identity(name="刘䶮"))
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(application, reviewer, reviewer)
        db.session.commit()
        outbox.run_once()
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        return_visit.record_visit(application, agent, "passed", return_visit.required_items(application), "")
        db.session.commit()
        return db.session.scalar(select(Customer.customer_no).where(Customer.name == "刘䶮"))
