"""The 360 customer page: its sections in order with a table of contents, and a fixed number of queries."""
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import event, select

from blueprints.auth.models import Staff
from blueprints.changes import services as changes
from blueprints.changes.rules import ChangeKind
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from core.extensions import db
from core.timeutil import business_today
from tests.reminders.support import customer_with
from tests.requests.helpers import login_as

SECTIONS = ["section-profile", "section-id-documents", "section-accounts", "section-risk", "section-grade",
            "section-manager", "section-service", "section-changes", "section-return-visits", "section-archive",
            "section-reminders"]


@contextmanager
def counted(app):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def grow(app, customer_no: str, times: int) -> None:
    """Give the customer many profile versions, ID documents and applied changes."""
    with app.app_context():
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        for n in range(times):
            customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
            after = {**changes.current_values(customer), "email": f"v{n}@example.com"}
            change = changes.submit(customer, kind=ChangeKind.ORDINARY, after=after, systems=[], actor=clerk,
                                    client_token=f"grow-{customer_no}-{n}", base_version=customer.profile_version)
            changes.approve(change, reviewer, reviewer)
            document = customer_services.current_id_document(customer.id)
            customer_services.add_id_document(customer, {"id_type": "resident_id", "id_number": document.id_number,
                                                         "name": document.name, "valid_from": date(2010, 1, 1),
                                                         "valid_to": business_today() + timedelta(days=10 + n)},
                                              source="change", actor=None)
        db.session.commit()


def test_sections_come_in_order_with_working_anchors(app):
    number = customer_with(app, 1, valid_to=business_today() + timedelta(days=5))
    body = login_as(app, "clerk").get(f"/customers/{number}").get_data(as_text=True)
    positions = [body.index(f'id="{anchor}"') for anchor in SECTIONS]
    assert positions == sorted(positions)
    toc = body.split('id="customer-toc"')[1].split("</nav>")[0]
    assert all(f'href="#{anchor}"' in toc for anchor in SECTIONS)
    # The grading, managers and service packages fill their sections.
    assert 'id="grading-panel"' in body.split('id="section-grade"')[1].split('id="section-manager"')[0]
    manager = body.split('id="section-manager"')[1].split('id="section-service"')[0]
    assert 'id="manager-panel"' in manager and "尚未分配客户经理" in manager
    assert 'id="service-panel"' in body.split('id="section-service"')[1].split('id="section-changes"')[0]
    reminders = body.split('id="section-reminders"')[1]
    assert 'data-reminder="id_within_30"' in reminders and "5 天后到期" in reminders


def test_the_page_takes_the_same_number_of_queries_however_long_the_history(app):
    small = customer_with(app, 1, valid_to=business_today() + timedelta(days=400))
    large = customer_with(app, 2, valid_to=business_today() + timedelta(days=400))
    grow(app, small, 1)
    grow(app, large, 12)
    client = login_as(app, "manager")
    client.get(f"/customers/{small}")  # warm the session and caches
    with counted(app) as few:
        assert client.get(f"/customers/{small}").status_code == 200
    with counted(app) as many:
        response = client.get(f"/customers/{large}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("v11@example.com") >= 1
    assert len(many) == len(few), (len(few), len(many))
    assert len(few) < 60


def test_return_visits_and_archive_are_shown_for_an_opened_customer(app, auth):
    from tests.lifecycle import activate_customer

    auth.login("clerk")
    number = activate_customer(app, auth)
    body = auth.get(f"/customers/{number}").get_data(as_text=True)
    visits = body.split('id="section-return-visits"')[1].split('id="section-archive"')[0]
    assert "回访通过，已激活" in visits and "已接通，回访通过" in visits
    archive = body.split('id="section-archive"')[1].split('id="section-reminders"')[0]
    assert "尚未生成电子档案" in archive
    risk = body.split('id="section-risk"')[1].split('id="section-grade"')[0]
    assert "C" in risk and "有效期至" in risk


def test_another_branch_does_not_see_the_customer(app):
    number = customer_with(app, 1)
    assert login_as(app, "clerk_sh").get(f"/customers/{number}").status_code == 404
    assert login_as(app, "admin").get(f"/customers/{number}").status_code == 200
