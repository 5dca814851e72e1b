"""The kept customer counts (customer_count) equal a COUNT(*) of the customers after every path that moves one."""
import threading
import time
from datetime import date, timedelta

from sqlalchemy import select, update

from blueprints.auth.models import Branch, Staff
from blueprints.customers import counts
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerCount, CustomerKind
from blueprints.id_expiry import services as id_expiry
from blueprints.opening.models import Application
from blueprints.return_visit.models import ReturnVisit
from blueprints.accounts.models import FundAccount
from core.extensions import db
from core.timeutil import business_today
from tests import factories
from tests.closure.support import active_customer, drain, reference_from, review, start_closure
from tests.lifecycle import activate_customer
from tests.reminders.test_prospects import NAME as PROSPECT_NAME, enter as enter_prospect
from tests.requests.helpers import login_as
from tests.requests.test_exceptions import approved, deliver, message_of


def kept_matches_counted(app) -> dict:
    """Assert the kept counts are what COUNT(*) finds now; return them."""
    with app.app_context():
        kept, counted = counts.kept(), counts.counted()
    assert kept == counted
    return kept


def key_of(app, customer_no: str) -> tuple:
    with app.app_context():
        c = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        return counts.key_of(c.branch_id, c.kind, c.risk_class, c.risk_lowest, c.grade)


def test_enrolment_dormancy_restriction_and_closure_keep_the_counts(app, clerk, trading):
    before = kept_matches_counted(app)  # the demo customer, enrolled by seed-demo
    # Enrolment at approval: a new customer, made current, with the assessment's risk class.
    customer_no, number = active_customer(app, clerk)
    after = kept_matches_counted(app)
    key = key_of(app, customer_no)
    assert key[1] == CustomerKind.CURRENT and key[2] != ""
    assert after[key] == before.get(key, 0) + 1
    # Dormancy and reactivation move accounts, not the customer: nothing to recount.
    trading.set_position(number, last_trade_on=business_today() - timedelta(days=365 * 3 + 1))
    assert app.test_cli_runner().invoke(args=["accounts", "mark-dormant"]).exit_code == 0
    kept_matches_counted(app)
    # The ID-expiry restriction restricts accounts; the customer stays current.
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        document = customer_services.current_id_document(customer.id)
        document.valid_from = business_today() - timedelta(days=3700)
        document.valid_to = business_today() - timedelta(days=60)
        db.session.commit()
        assert id_expiry.restrict_expired(grace=30).restricted == 1
        db.session.commit()
    assert kept_matches_counted(app) == after
    # Closure of the last account makes the customer historical.
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert review(clerk, reference_from(response)).status_code == 303
    drain(app)
    closed = kept_matches_counted(app)
    historical = key_of(app, customer_no)
    assert historical[1] == CustomerKind.HISTORICAL
    assert closed[historical] == before.get(historical, 0) + 1
    assert closed.get(key, 0) == before.get(key, 0)


def test_a_prospect_counts_as_potential_then_current_when_its_opening_is_approved(app):
    clerk = login_as(app, "clerk")
    before = kept_matches_counted(app)
    assert enter_prospect(clerk).status_code == 303
    with app.app_context():
        branch_id = db.session.scalar(select(Staff.branch_id).where(Staff.username == "clerk"))
    potential = counts.key_of(branch_id, CustomerKind.POTENTIAL, None, False, None)
    assert kept_matches_counted(app)[potential] == before.get(potential, 0) + 1
    customer_no = activate_customer(app, clerk, name=PROSPECT_NAME)
    after = kept_matches_counted(app)
    assert after.get(potential, 0) == before.get(potential, 0)
    assert key_of(app, customer_no)[1] == CustomerKind.CURRENT


def test_a_failed_opening_makes_the_customer_potential_in_the_counts(app):
    clerk, manager = login_as(app, "clerk"), login_as(app, "manager")
    reference = approved(app, clerk)
    kept_matches_counted(app)
    app.extensions["china_clearing"].faults.reject_next("一码通开户资料不完整")
    deliver(app)
    csdc = message_of(app, reference, "csdc.open_accounts")
    assert manager.post(f"/exceptions/{csdc['id']}/cancel",
                        {"cancel-revision": "0", "cancel-reason": "客户放弃开户"}).status_code == 303
    app.extensions["china_clearing"].faults.reset()
    kept_matches_counted(app)
    with app.app_context():
        customer_id = db.session.scalar(select(Application.customer_id).where(Application.reference == reference))
        assert db.session.get(Customer, customer_id).kind == CustomerKind.POTENTIAL


def test_change_kind_and_a_new_risk_class_move_one_count_each(app):
    with app.app_context():
        customer = db.session.scalar(select(Customer).order_by(Customer.id).limit(1))
        old = counts.key_of(customer.branch_id, customer.kind, customer.risk_class, customer.risk_lowest, customer.grade)
        customer_services.change_kind(customer, CustomerKind.LOST, None, "测试")
        db.session.commit()
    lost = kept_matches_counted(app)
    with app.app_context():
        customer = db.session.scalar(select(Customer).order_by(Customer.id).limit(1))
        assert lost[counts.key_of(customer.branch_id, CustomerKind.LOST, customer.risk_class, False, None)] == 1
        db.session.expire_all()  # the next change starts from values not loaded yet
        customer = db.session.scalar(select(Customer).order_by(Customer.id).limit(1))
        db.session.expire(customer)
        customer.risk_class, customer.risk_lowest = "C1", True
        customer_services.change_kind(customer, CustomerKind.CURRENT, None, "测试")
        db.session.commit()
    final = kept_matches_counted(app)
    assert final.get(old, 0) == 0 or old[1:] == (CustomerKind.CURRENT, "C1", True, "")
    assert final[counts.key_of(old[0], CustomerKind.CURRENT, "C1", True, None)] == 1


def test_a_rolled_back_change_leaves_the_counts_alone(app):
    before = kept_matches_counted(app)
    with app.app_context():
        customer = db.session.scalar(select(Customer).order_by(Customer.id).limit(1))
        customer_services.change_kind(customer, CustomerKind.LOST, None, "测试")
        db.session.flush()
        db.session.rollback()
    assert kept_matches_counted(app) == before


def test_the_recount_command_repairs_counts_that_drifted(app):
    with app.app_context():
        db.session.execute(update(CustomerCount).values(n=CustomerCount.n + 5))
        bj = db.session.scalar(select(Branch.id).where(Branch.code == "0201"))
        db.session.add(CustomerCount(branch_id=bj, kind="lost", risk_class="C9", risk_lowest=False, n=3))
        db.session.commit()
        assert counts.kept() != counts.counted()
    result = app.test_cli_runner().invoke(args=["customers", "recount"])
    assert result.exit_code == 0, result.output
    assert "kept 6, counted 1" in result.output and "kept 3, counted 0" in result.output
    assert "2 count(s) corrected" in result.output
    kept_matches_counted(app)
    again = app.test_cli_runner().invoke(args=["customers", "recount"])
    assert "0 count(s) corrected" in again.output


def _new_customer(branch_code: str, seq: str) -> None:
    branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
    customer_services.create_customer(branch=branch, source="import", actor=None, reason="测试",
                                      values={"name": f"测试{seq}", "id_type": "resident_id",
                                              "id_number": factories.make_id(seq3=seq)})


def test_two_concurrent_enrolments_in_one_branch_both_count(app):
    """The second waits for the first's row and then adds to what it committed: no lost update."""
    before = kept_matches_counted(app)
    errors = []

    def second():
        try:
            with app.app_context():
                _new_customer("0101", "402")
                db.session.commit()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    with app.app_context():
        _new_customer("0101", "401")
        db.session.flush()  # the first holds its count row (PostgreSQL) or the write lock (SQLite)
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        db.session.commit()
    thread.join(timeout=30)
    assert not errors, errors
    after = kept_matches_counted(app)
    with app.app_context():
        branch_id = db.session.scalar(select(Branch.id).where(Branch.code == "0101"))
    key = counts.key_of(branch_id, CustomerKind.CURRENT, None, False, None)
    assert after[key] == before.get(key, 0) + 2


def test_openings_and_visits_carry_their_channel_and_branch(app):
    """The copies the statistics read are filled by the opening and the return visit themselves."""
    clerk = login_as(app, "clerk")
    activate_customer(app, clerk)
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.status == "approved"))
        account = db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))
        visit = db.session.scalar(select(ReturnVisit).where(ReturnVisit.application_id == application.id))
        assert account.channel == application.channel == "onsite"
        assert visit.branch_id == application.branch_id


def test_a_recomputed_grade_moves_the_customer_to_its_grade_in_the_counts(app):
    from tests.grading.support import DEMO_CUSTOMER
    from tests.grading.test_grades import add_rules, hold, load_market
    from blueprints.grading import services as grading

    add_rules(app)
    admin = login_as(app, "admin")
    load_market(admin, ["10.00"] * 19 + ["12.00"])
    hold(admin, 10000)
    with app.app_context():
        grading.recompute(today=date(2026, 12, 1))
        db.session.commit()
    kept = kept_matches_counted(app)
    demo = key_of(app, DEMO_CUSTOMER)
    # Graded now (which grade depends on the rules' bands, tested in tests/grading), and counted under it.
    assert demo[-1] != "" and kept[demo] == 1
    assert kept.get(demo[:-1] + ("",), 0) == 0
