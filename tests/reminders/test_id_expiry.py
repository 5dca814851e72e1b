"""The ID-expiry restriction: after the grace period, not before; 完善资料 first; lifted by renewal; closure never blocked."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.accounts.models import AccountStatusChange, FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.changes import services as changes
from blueprints.changes.rules import ChangeKind
from blueprints.closure import services as closure_services
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.id_expiry import services
from blueprints.id_expiry.models import IdExpiryRestriction
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import business_today
from tests.closure.support import active_customer, reference_from, review, start_closure
from tests.requests.helpers import login_as

GRACE = 30


@pytest.fixture
def clerk(app, auth):
    auth.login("clerk")
    return auth


@pytest.fixture
def active(app, clerk):
    return active_customer(app, clerk)


def expire_document(app, customer_no: str, days_ago: int) -> None:
    """Make the customer's document on record have expired `days_ago` days ago."""
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        document = customer_services.current_id_document(customer.id)
        document.valid_from = business_today() - timedelta(days=days_ago + 3650)
        document.valid_to = business_today() - timedelta(days=days_ago)
        db.session.commit()


def run(app, **kwargs):
    with app.app_context():
        result = services.restrict_expired(grace=GRACE, **kwargs)
        db.session.commit()
        return result


def statuses(app, customer_no: str) -> set[str]:
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        funds = db.session.scalars(select(FundAccount.status).where(FundAccount.customer_id == customer_id))
        subs = db.session.scalars(select(SecuritiesAccount.status).where(SecuritiesAccount.customer_id == customer_id))
        return {str(s) for s in [*funds, *subs]}


def restriction_of(app, customer_no: str) -> IdExpiryRestriction | None:
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        found = services.open_restriction(customer_id)
        if found is not None:
            db.session.expunge(found)
        return found


def renew(app, customer_no: str) -> str:
    """Record the customer's renewed document (完善资料) and approve it on the same terminal."""
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        today = business_today()
        draft = changes.prepare_key_change(customer, "renewal", name=None, id_type=None, id_number=None,
                                           valid_from=today - timedelta(days=1), valid_to=today + timedelta(days=3650),
                                           today=today)
        assert not draft.errors, draft.errors
        change = changes.submit(customer, kind=draft.kind, after=draft.after, systems=[], actor=clerk,
                                client_token="renewal-1", base_version=customer.profile_version)
        changes.approve(change, reviewer, reviewer)
        db.session.commit()
        return change.reference


def test_not_restricted_within_the_grace_period(app, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE)
    assert run(app).restricted == 0
    assert statuses(app, customer_no) == {"active"}
    assert restriction_of(app, customer_no) is None


def test_restricted_the_day_after_the_grace_period_with_the_reason_recorded(app, active):
    customer_no, number = active
    expire_document(app, customer_no, GRACE + 1)
    result = run(app)
    assert (result.restricted, result.accounts) == (1, 3)  # the fund account and its two sub-accounts
    assert statuses(app, customer_no) == {"restricted"}
    restriction = restriction_of(app, customer_no)
    assert restriction.previous_statuses["fund"] and set(restriction.previous_statuses["securities"].values()) == {"active"}
    with app.app_context():
        reasons = set(db.session.scalars(select(AccountStatusChange.reason).where(
            AccountStatusChange.to_status == "restricted")))
        assert len(reasons) == 1 and "证件过期限制" in reasons.pop()
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.id_expiry_restrict"))
    # A second run changes nothing.
    assert run(app).restricted == 0 and run(app).accounts == 0


def test_ordinary_change_is_refused_naming_complete_data_first(app, clerk, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE + 5)
    run(app)
    page = clerk.get(f"/changes/new/{customer_no}/ordinary").get_data(as_text=True)
    assert 'id="change-refused"' in page and "完善资料" in page
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        clerk_row = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        after = {**changes.current_values(customer), "email": "new@example.com"}
        with pytest.raises(changes.ChangeRefused) as refused:
            changes.submit(customer, kind=ChangeKind.ORDINARY, after=after, systems=[], actor=clerk_row,
                           client_token="ordinary-1", base_version=customer.profile_version)
        assert refused.value.status == 409 and "须先办理完善资料" in str(refused.value)


def test_reactivation_is_refused_naming_complete_data(app, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE + 5)
    run(app)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        assert "完善资料" in closure_services.id_refusal(customer)


def test_renewal_lifts_the_restriction_and_the_accounts_go_back(app, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE + 5)
    run(app)
    reference = renew(app, customer_no)
    assert statuses(app, customer_no) == {"active"}
    assert restriction_of(app, customer_no) is None
    with app.app_context():
        restriction = db.session.scalar(select(IdExpiryRestriction))
        assert restriction.lifted_at is not None and reference in restriction.lift_reason
    # Nothing is due any more.
    assert run(app).checked == 0


def test_closure_is_never_blocked_by_the_restriction(app, clerk, active):
    customer_no, number = active
    expire_document(app, customer_no, GRACE + 5)
    run(app)
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert review(clerk, reference_from(response)).status_code == 303
    assert statuses(app, customer_no) == {"closing"}


def test_customer_page_shows_the_restriction_and_the_way_out(app, clerk, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE + 5)
    run(app)
    page = clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert 'id="id-restriction"' in page and "完善资料" in page
    assert f"/changes/new/{customer_no}/key?element=renewal" in page
    assert "限制交易" in page and 'id="id-restriction-history"' in page
    key_page = clerk.get(f"/changes/new/{customer_no}/key?element=renewal").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="renewal"', key_page)  # the renewal is chosen for the clerk
    assert 'id="id-restriction"' in key_page


def test_command_runs_from_the_cli(app, active):
    customer_no, _ = active
    expire_document(app, customer_no, GRACE + 1)
    result = app.test_cli_runner().invoke(args=["customers", "restrict-expired", "--grace-days", str(GRACE)])
    assert result.exit_code == 0, result.output
    assert "restricted 1 (3 accounts)" in result.output
    assert statuses(app, customer_no) == {"restricted"}


def test_grace_period_is_a_setting(app, active):
    customer_no, _ = active
    expire_document(app, customer_no, 10)
    assert app.config["ID_EXPIRY_GRACE_DAYS"] == 30
    with app.app_context():
        assert services.restrict_expired().restricted == 0
        app.config["ID_EXPIRY_GRACE_DAYS"] = 5
        try:
            assert services.restrict_expired().restricted == 1
        finally:
            app.config["ID_EXPIRY_GRACE_DAYS"] = 30
        db.session.rollback()
