"""Take a customer through the whole opening, for tests that start from an active account."""
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from blueprints.return_visit import services as return_visit
from blueprints.review import services as review
from core import outbox
from core.extensions import db
from tests import factories


def activate_customer(app, auth, name: str = "刘䶮", token: str = "lifecycle-1") -> str:
    """Submit as the logged-in clerk, approve, open the accounts, pass the return visit; return the customer number."""
    with app.app_context():
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
    reference = factories.start(auth, token=token)
    factories.walk_with(auth, reference, "summary", clerk_id, identity=factories.identity(name=name))
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
        return db.session.scalar(factories.customer_named(name).with_only_columns(Customer.customer_no))
