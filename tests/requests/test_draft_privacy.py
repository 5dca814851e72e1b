"""A never-submitted application (草稿) is its maker's: others see it masked or not at all; a client token
names only its own creator's draft."""
import pytest
from sqlalchemy import func, select

from blueprints.opening.models import Application
from core.extensions import db
from core.masking import mask_id_number, mask_mobile
from core.roles import Role
from tests import factories
from tests.requests.helpers import add_staff, login_as, staff_id
from tests.requests.test_review import file_store, submit, submit_witness  # noqa: F401

MOBILE = "13812348000"
STREET = "建国路88号"


def _draft(app, username="clerk", token="tok-draft"):
    auth = login_as(app, username)
    reference = factories.start(auth, token)
    factories.walk(auth, reference, "summary", staff_id(app, username))
    return auth, reference


def _body(auth, url):
    response = auth.get(url)
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def colleagues(app):
    add_staff(app, "clerk2", Role.CLERK, full_name="陈柜员")


@pytest.mark.parametrize("url", ["/review/{ref}", "/review/{ref}/witness/photo",
                                 "/review/{ref}/witness/signature"])
def test_a_reviewer_cannot_open_a_never_submitted_draft(app, url):
    _clerk, reference = _draft(app)
    status, body = _body(login_as(app, "reviewer"), url.format(ref=reference))
    assert status == 404
    assert factories.CUSTOMER_ID not in body and MOBILE not in body


def test_a_reviewer_opens_the_application_once_it_is_submitted(app):
    _clerk, reference = submit(app)
    status, body = _body(login_as(app, "reviewer"), f"/review/{reference}")
    assert status == 200 and factories.CUSTOMER_ID in body


@pytest.mark.parametrize("username", ["clerk2", "witness", "manager", "admin"])
def test_others_see_a_never_submitted_draft_masked(app, colleagues, username):
    _clerk, reference = _draft(app)
    status, body = _body(login_as(app, username), f"/opening/{reference}/detail")
    assert status == 200
    assert factories.CUSTOMER_ID not in body and mask_id_number(factories.CUSTOMER_ID) in body
    assert MOBILE not in body and mask_mobile(MOBILE) in body
    assert STREET not in body
    assert "1988-06-12" not in body  # the birth date either


def test_the_maker_sees_the_draft_in_full(app):
    clerk, reference = _draft(app)
    status, body = _body(clerk, f"/opening/{reference}/detail")
    assert status == 200 and factories.CUSTOMER_ID in body and MOBILE in body


def test_once_submitted_a_colleague_with_a_full_id_role_sees_it_in_full_again(app, colleagues):
    _clerk, reference = submit(app)
    status, body = _body(login_as(app, "clerk2"), f"/opening/{reference}/detail")
    assert status == 200 and factories.CUSTOMER_ID in body


def test_a_draft_witness_openings_images_are_the_makers_only(app, file_store):  # noqa: F811
    witness, reference = submit_witness(app)
    with app.app_context():
        # As if the witness had stopped before submitting: a draft with its images.
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        application.status, application.submission_no = "draft", 0
        db.session.commit()
    assert witness.get(f"/review/{reference}/witness/photo").status_code == 200
    manager = login_as(app, "manager")
    assert manager.get(f"/review/{reference}/witness/photo").status_code == 404
    status, body = _body(manager, f"/opening/{reference}/detail")
    assert status == 200
    assert f"/review/{reference}/witness/photo" not in body and "仅录入人员可查看" in body


# --- the client token of "new application" ---------------------------------------------------------

def _applications(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Application))


@pytest.mark.parametrize("username", ["clerk_sh", "clerk2", "witness"])
def test_replaying_another_staff_members_client_token_reveals_nothing(app, colleagues, username):
    _clerk, reference = _draft(app, token="tok-beijing")
    before = _applications(app)
    other = login_as(app, username)
    response = other.post("/opening/new", {"channel": "onsite", "customer_type": "individual",
                                           "client_token": "tok-beijing"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert reference not in body and "Location" not in response.headers
    assert "该页面已失效" in body
    assert 'value="onsite"' in body and 'value="tok-beijing"' not in body  # a token of their own now
    assert _applications(app) == before
    # Sent again as the page now stands, it starts the other staff member's own draft.
    token = body.split('name="client_token"')[1].split('value="')[1].split('"')[0]
    again = other.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": token})
    assert again.status_code == 303 and reference not in again.headers["Location"]
    assert _applications(app) == before + 1


def test_the_same_clerks_double_click_still_starts_one_draft(app):
    clerk = login_as(app, "clerk")
    first = clerk.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": "dbl"})
    second = clerk.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": "dbl"})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
