"""Same-terminal panels (同机复核) are hosted only by the session of the staff member who submitted the
business, and a decided business is refused before any reviewer's password is checked or counted."""
import pytest
from sqlalchemy import func, select

from blueprints.auth.models import Staff
from blueprints.auth.rules import ACCOUNT

# More wrong passwords than an account may fail before it is throttled.
MAX_FAILED_LOGINS = ACCOUNT.free + 2
from blueprints.changes.models import CustomerChange
from blueprints.closure.models import AccountClosure, ClosureStatus
from blueprints.home.demo import DEMO_PASSWORD
from core.extensions import db
from core.roles import Role
from tests.changes.test_change_requests import NEW_MOBILE, _submit_ordinary, file_store  # noqa: F401
from tests.closure.support import active_customer, reference_from, start_closure
from tests.lifecycle import activate_customer
from tests.requests.helpers import add_staff, login_as
from tests.requests.test_review import decisions_of, submit


def failed_logins(app, username="reviewer") -> int:
    with app.app_context():
        return db.session.scalar(select(Staff.failed_logins).where(Staff.username == username))


def wrong_password(decision="approve"):
    return {"reviewer_username": "reviewer", "reviewer_password": "not-the-password", "decision": decision,
            "reason": "资料不符"}


def right_password(decision="approve"):
    return {"reviewer_username": "reviewer", "reviewer_password": DEMO_PASSWORD, "decision": decision,
            "reason": "资料不符"}


# --- opening applications -------------------------------------------------------------------------

@pytest.fixture
def submitted(app):
    clerk, reference = submit(app)
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")
    return clerk, reference


@pytest.mark.parametrize("username", ["clerk2", "witness", "marketing", "visitor"])
def test_only_the_maker_hosts_the_same_terminal_review_of_an_application(app, submitted, username):
    _clerk, reference = submitted
    other = login_as(app, username)
    assert other.get(f"/review/{reference}/same-terminal").status_code == 403
    for _ in range(MAX_FAILED_LOGINS + 1):
        assert other.post(f"/review/{reference}/same-terminal", wrong_password()).status_code == 403
    assert other.post(f"/review/{reference}/same-terminal", right_password()).status_code == 403
    assert decisions_of(app, reference) == []
    assert failed_logins(app) == 0


def test_another_clerks_refusal_names_the_reason_in_chinese(app, submitted):
    _clerk, reference = submitted
    response = login_as(app, "clerk2").get(f"/review/{reference}/same-terminal")
    assert "只有录入该申请的经办人员可以在本机发起同机复核" in response.get_data(as_text=True)


def test_a_decided_application_is_a_conflict_before_the_password_is_checked(app, submitted):
    clerk, reference = submitted
    assert clerk.post(f"/review/{reference}/same-terminal", right_password()).status_code == 303
    for _ in range(MAX_FAILED_LOGINS + 1):
        response = clerk.post(f"/review/{reference}/same-terminal", wrong_password())
        assert response.status_code == 409
        assert "无需重复复核" in response.get_data(as_text=True)
    assert failed_logins(app) == 0
    assert len(decisions_of(app, reference)) == 1
    # The reviewer can still log in: nothing was counted against them.
    assert login_as(app, "reviewer")


# --- closures ------------------------------------------------------------------------------------

@pytest.fixture
def closure(app, auth):
    auth.login("clerk")
    customer_no, number = active_customer(app, auth)
    reference = reference_from(start_closure(auth, customer_no, number))
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")
    return auth, reference


def closure_status(app, reference):
    with app.app_context():
        return db.session.scalar(select(AccountClosure.status).where(AccountClosure.reference == reference))


def test_only_the_clerk_who_submitted_a_closure_hosts_its_review(app, closure):
    _clerk, reference = closure
    other = login_as(app, "clerk2")
    page = other.get(f"/closure/{reference}")
    assert page.status_code == 200 and 'id="review-form"' not in page.get_data(as_text=True)
    for _ in range(MAX_FAILED_LOGINS + 1):
        assert other.post(f"/closure/{reference}/review", wrong_password("reject")).status_code == 403
    assert other.post(f"/closure/{reference}/review", right_password("reject")).status_code == 403
    assert closure_status(app, reference) == ClosureStatus.SUBMITTED
    assert failed_logins(app) == 0


def test_a_decided_closure_is_a_conflict_before_the_password_is_checked(app, closure):
    clerk, reference = closure
    assert clerk.post(f"/closure/{reference}/review", right_password("reject")).status_code == 303
    for _ in range(MAX_FAILED_LOGINS + 1):
        response = clerk.post(f"/closure/{reference}/review", wrong_password("reject"))
        assert response.status_code == 409
        assert "已不在待复核状态" in response.get_data(as_text=True)
    assert failed_logins(app) == 0


# --- changes of customer information ---------------------------------------------------------------

@pytest.fixture
def change(app, auth, file_store):  # noqa: F811
    auth.login()
    customer_no = activate_customer(app, auth)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")
    return auth, reference


def change_status(app, reference):
    with app.app_context():
        return db.session.scalar(select(CustomerChange.status).where(CustomerChange.reference == reference))


def test_only_the_clerk_who_entered_a_change_hosts_its_review(app, change):
    _clerk, reference = change
    other = login_as(app, "clerk2")
    page = other.get(f"/changes/{reference}")
    assert page.status_code == 200 and 'id="change-review-form"' not in page.get_data(as_text=True)
    for _ in range(MAX_FAILED_LOGINS + 1):
        assert other.post(f"/changes/{reference}/review", wrong_password()).status_code == 403
    assert other.post(f"/changes/{reference}/review", right_password()).status_code == 403
    assert change_status(app, reference) == "submitted"
    assert failed_logins(app) == 0


def test_a_decided_change_is_a_conflict_before_the_password_is_checked(app, change):
    clerk, reference = change
    assert clerk.post(f"/changes/{reference}/review", right_password("reject")).status_code == 303
    for _ in range(MAX_FAILED_LOGINS + 1):
        response = clerk.post(f"/changes/{reference}/review", wrong_password())
        assert response.status_code == 409
        assert "已不在待复核状态" in response.get_data(as_text=True)
    assert failed_logins(app) == 0


# --- client tokens of the businesses hosted here ----------------------------------------------------

def test_replaying_another_clerks_closure_token_reveals_nothing(app, auth):
    from tests.closure.support import start_form

    auth.login("clerk")
    customer_no, number = active_customer(app, auth)
    data = start_form(auth, customer_no, number)
    first = auth.post(f"/closure/{customer_no}/start", data)
    assert first.status_code == 303
    reference = reference_from(first)
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")
    replay = login_as(app, "clerk2").post(f"/closure/{customer_no}/start", data)
    # Refused, not led to the colleague's closure (the customer page may list it: same branch).
    assert replay.status_code == 409 and "Location" not in replay.headers and "HX-Redirect" not in replay.headers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountClosure)) == 1
    # The clerk's own double click still gives back the same closure.
    assert reference_from(auth.post(f"/closure/{customer_no}/start", data)) == reference


def test_replaying_another_clerks_change_token_reveals_nothing(app, auth, file_store):  # noqa: F811
    from tests.changes.test_change_requests import _form_values, _ordinary_change

    auth.login()
    customer_no = activate_customer(app, auth)
    _values, preview = _ordinary_change(auth, customer_no, mobile=NEW_MOBILE)
    confirmed = _form_values(preview.get_data(as_text=True), "ordinary-change-form")
    first = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    assert first.status_code == 303
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")
    copied = {name: value for name, value in confirmed.items() if name != "csrf_token"}
    replay = login_as(app, "clerk2").post(f"/changes/new/{customer_no}/ordinary", data=copied)
    assert replay.status_code == 409 and "Location" not in replay.headers
    assert "该页面已失效" in replay.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerChange)) == 1


def test_a_colleagues_submitted_page_offers_no_same_terminal_panel(app, submitted):
    _clerk, reference = submitted
    body = login_as(app, "clerk2").get(f"/opening/{reference}/submitted").get_data(as_text=True)
    assert f"/review/{reference}/same-terminal" not in body and "经办人员终端" in body
