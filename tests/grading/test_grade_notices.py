"""Who hears of a grade change: the customer's manager on that day (after a handover, the new one), else the branch
manager; the notice on the workbench names the customer masked, links the record and can be marked read."""
from datetime import date, timedelta

from sqlalchemy import select

from blueprints.grading import services
from blueprints.grading.models import Notification
from blueprints.managers.models import CustomerAssignment
from core.extensions import db
from core.models import AuditEvent
from tests.grading.support import DEMO_CUSTOMER, customer_id
from tests.grading.test_grades import add_rules, hold, load_market
from tests.requests.helpers import login_as, staff_id


# The demo customer's manager took them on just after the market data below (the demo itself says 2020).
SERVED_SINCE = date(2026, 12, 2)


def _graded_silver(app):
    """Rules, prices and a holding that make the demo customer silver at the next recompute."""
    with app.app_context():
        assignment = db.session.scalar(select(CustomerAssignment).where(
            CustomerAssignment.customer_id == customer_id(app, DEMO_CUSTOMER)))
        assignment.effective_from = SERVED_SINCE
        db.session.commit()
    add_rules(app)
    admin = login_as(app, "admin")
    load_market(admin, ["10.00"] * 19 + ["12.00"])
    hold(admin, 10000)


def _assignment_start(app):
    with app.app_context():
        return db.session.scalar(select(CustomerAssignment.effective_from)
                                 .where(CustomerAssignment.customer_id == customer_id(app, DEMO_CUSTOMER)))


def _recompute(app, today):
    with app.app_context():
        services.recompute([customer_id(app, DEMO_CUSTOMER)], today=today)
        db.session.commit()


def _recipients(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Notification.recipient_id).order_by(Notification.id)))


def test_the_customers_manager_of_the_day_is_told_not_the_branch_manager(app):
    _graded_silver(app)
    _recompute(app, _assignment_start(app))
    assert _recipients(app) == [staff_id(app, "cmanager")]
    with app.app_context():  # the grade is kept on the customer too, for the statistics
        from blueprints.customers.models import Customer
        assert db.session.get(Customer, customer_id(app, DEMO_CUSTOMER)).grade == "silver"


def test_a_handover_effective_that_day_moves_the_notice_to_the_new_manager(app):
    _graded_silver(app)
    start = _assignment_start(app)
    handover_day = start + timedelta(days=5)
    cid, successor, boss = customer_id(app, DEMO_CUSTOMER), staff_id(app, "cmanager2"), staff_id(app, "manager")
    with app.app_context():
        current = db.session.scalar(select(CustomerAssignment).where(CustomerAssignment.customer_id == cid))
        current.effective_to = handover_day
        db.session.add(CustomerAssignment(customer_id=cid, staff_id=successor,
                                          effective_from=handover_day, reason="移交",
                                          assigned_by_id=boss))
        db.session.commit()
    # The day before the handover the old manager still looks after the customer.
    with app.app_context():
        from blueprints.customers.models import Customer
        customer = db.session.get(Customer, cid)
        assert [s.username for s in services.customer_managers_of(customer, handover_day - timedelta(days=1))] == ["cmanager"]
    _recompute(app, handover_day)
    assert _recipients(app) == [staff_id(app, "cmanager2")]


def test_a_customer_without_a_manager_is_the_branch_managers(app):
    _graded_silver(app)
    _recompute(app, _assignment_start(app) - timedelta(days=1))  # before anyone was assigned
    assert _recipients(app) == [staff_id(app, "manager")]


def test_the_notice_shows_the_masked_customer_old_and_new_grade_and_a_link_and_is_marked_read(app):
    _graded_silver(app)
    _recompute(app, _assignment_start(app))
    owner = login_as(app, "cmanager")
    home = owner.get("/").get_data(as_text=True)
    notices = home.split('id="notifications"')[1].split("</section>")[0]
    assert "张**" in notices and "张建国" not in notices
    assert f'href="/customers/{DEMO_CUSTOMER}"' in notices and "无 → 银卡" in notices
    assert 'id="notifications"' not in login_as(app, "manager").get("/").get_data(as_text=True)
    with app.app_context():
        notice_id = db.session.scalar(select(Notification.id))
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "notifications.view"))
        assert audit is not None and "张建国" not in str(audit.detail)
    # Someone else cannot mark it read; its recipient can, and it leaves the workbench.
    assert login_as(app, "cmanager2").post(f"/grading/notifications/{notice_id}/read").status_code == 404
    assert owner.post(f"/grading/notifications/{notice_id}/read").status_code == 303
    assert 'id="notifications"' not in owner.get("/").get_data(as_text=True)
