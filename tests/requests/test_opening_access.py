"""Who may open, see and change an application: roles, branches, the entering clerk, masking, audit."""
import pytest
from sqlalchemy import select, text

from tests.factories import STEP_KEYS
from core.extensions import db
from core.masking import mask_id_number, mask_mobile
from core.models import AuditEvent
from core.roles import Role
from tests import factories
from tests.requests.helpers import add_staff, application_row, login_as, page_of, staff_id

NON_OPENERS = ["reviewer", "marketing", "visitor", "archivist", "manager", "admin"]


def _draft(app, username="clerk", until="summary", token=None):
    """A draft entered by `username`, saved up to (not including) `until`; returns (auth, reference)."""
    auth = login_as(app, username)
    reference = factories.start(auth, token or f"tok-{username}")
    factories.walk(auth, reference, until, staff_id(app, username))
    return auth, reference


def _views(app, reference):
    with app.app_context():
        return list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "application.view", AuditEvent.object_id == reference)
            .order_by(AuditEvent.id)))


# --- roles -------------------------------------------------------------------------------------

def test_witness_staff_start_a_witness_opening(app):
    auth = login_as(app, "witness")
    page = auth.get("/opening/new").get_data(as_text=True)
    assert '<input checked id="channel-1" name="channel" required type="radio" value="witness">' in page
    response = auth.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": "w"})
    assert response.status_code == 303

@pytest.mark.parametrize("username", NON_OPENERS)
def test_only_clerks_and_witness_staff_may_start_an_application(app, username):
    auth = login_as(app, username)
    assert auth.get("/opening/new").status_code == 403
    response = auth.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": "x"})
    assert response.status_code == 403
    assert "无权操作" in response.get_data(as_text=True)
    assert auth.get("/opening/").status_code == 403


@pytest.mark.parametrize("username", ["reviewer", "manager", "admin", "archivist"])
def test_non_clerks_cannot_open_or_save_a_step(app, username):
    _clerk, reference = _draft(app, until="contact")
    other = login_as(app, username)
    assert other.get(factories.step_url(reference, "identity")).status_code == 403
    response = other.post(factories.step_url(reference, "contact"), factories.contact())
    assert response.status_code == 403
    assert "contact" not in application_row(app, reference)["completed"]


@pytest.mark.parametrize("username, status", [
    ("reviewer", 403), ("archivist", 403), ("witness", 200), ("marketing", 403), ("visitor", 403),
    ("manager", 200), ("admin", 200),
])
def test_detail_page_is_open_to_clerk_manager_and_admin_only(app, username, status):
    _clerk, reference = _draft(app)
    assert login_as(app, username).get(f"/opening/{reference}/detail").status_code == status


# --- branches ----------------------------------------------------------------------------------

def test_clerk_of_another_branch_gets_404_for_every_page_of_the_draft(app):
    _clerk, reference = _draft(app, until="verification")
    shanghai = login_as(app, "clerk_sh")
    for url in (f"/opening/{reference}", f"/opening/{reference}/detail", f"/opening/{reference}/submitted",
                *(factories.step_url(reference, key) for key in STEP_KEYS)):
        response = shanghai.get(url)
        assert response.status_code == 404, url
        assert "不属于您的营业部" in response.get_data(as_text=True)
    assert _views(app, reference) == []


def test_clerk_of_another_branch_gets_404_when_posting_to_the_draft(app):
    _clerk, reference = _draft(app, until="contact")
    before = application_row(app, reference)
    shanghai = login_as(app, "clerk_sh")
    assert shanghai.post(factories.step_url(reference, "identity"), factories.identity(name="冒名顶替")).status_code == 404
    assert shanghai.post(factories.step_url(reference, "contact"), factories.contact()).status_code == 404
    assert shanghai.post(f"/opening/{reference}/withdraw", {"reason": "x"}).status_code == 404
    after = application_row(app, reference)
    assert after["steps"] == before["steps"]
    assert after["status"] == "draft"


def test_manager_of_another_branch_cannot_see_the_detail(app):
    add_staff(app, "manager_sh", Role.BRANCH_MANAGER, "0201", "上海经理")
    _clerk, reference = _draft(app)
    assert login_as(app, "manager_sh").get(f"/opening/{reference}/detail").status_code == 404


@pytest.mark.parametrize("entered_by", ["clerk", "clerk_sh"])
def test_hq_admin_sees_the_detail_of_any_branch(app, entered_by):
    _clerk, reference = _draft(app, entered_by)
    response = login_as(app, "admin").get(f"/opening/{reference}/detail")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert reference in body and "刘晓明" in body


def test_branch_manager_sees_the_detail_of_own_branch(app):
    _clerk, reference = _draft(app)
    response = login_as(app, "manager").get(f"/opening/{reference}/detail")
    assert response.status_code == 200
    assert "北京朝阳门营业部" in response.get_data(as_text=True)


# --- the clerk who entered it ------------------------------------------------------------------

def test_another_clerk_of_the_same_branch_cannot_edit_the_draft(app):
    add_staff(app, "clerk2", Role.CLERK, "0101", "陈柜员")
    _clerk, reference = _draft(app, until="contact")
    before = application_row(app, reference)
    colleague = login_as(app, "clerk2")

    response = colleague.post(factories.step_url(reference, "identity"), factories.identity(name="陈某某"))
    assert response.status_code == 403
    assert "由其他柜员录入" in response.get_data(as_text=True)
    assert colleague.post(factories.step_url(reference, "contact"), factories.contact()).status_code == 403
    assert colleague.post(f"/opening/{reference}/withdraw", {"reason": "x"}).status_code == 403
    # Reading the wizard sends the colleague to the read-only page.
    wizard = colleague.get(factories.step_url(reference, "identity"))
    assert wizard.status_code == 303
    assert wizard.headers["Location"] == f"/opening/{reference}/detail"
    resume = colleague.get(f"/opening/{reference}")
    assert resume.headers["Location"] == f"/opening/{reference}/detail"

    after = application_row(app, reference)
    assert after["steps"] == before["steps"] and after["customer_name"] == "刘晓明"
    assert after["status"] == "draft"


def test_drafts_list_shows_only_the_clerks_own_drafts(app):
    add_staff(app, "clerk2", Role.CLERK, "0101", "陈柜员")
    clerk, mine = _draft(app, "clerk", until="contact")
    _c2, colleagues = _draft(app, "clerk2", until="contact")
    _sh, shanghai = _draft(app, "clerk_sh", until="contact")

    for url in ("/opening/", "/"):
        body = clerk.get(url).get_data(as_text=True)
        assert "我的待办" in body
        assert mine in body, url
        assert colleagues not in body and shanghai not in body, url
        # The clerk's own drafts show the name as the clerk typed it (the list is the clerk's own).
        assert "刘晓明" in body


# --- ID numbers, masking, audit, encryption ----------------------------------------------------

def _urls_of(response):
    urls = [response.headers.get(h) for h in ("Location", "HX-Push-Url", "HX-Redirect")]
    if response.mimetype == "text/html":
        urls += page_of(response).urls
    return [u for u in urls if u]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_id_numbers_never_appear_in_any_url(app, htmx):
    auth = login_as(app, "clerk")
    clerk_id = staff_id(app, "clerk")
    seen = []
    response = auth.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": "u"})
    seen += _urls_of(response)
    reference = response.headers["Location"].split("/")[2]
    payloads = factories.payloads(clerk_id, factories.passport_agent())
    for key in STEP_KEYS[1:]:
        seen += _urls_of(auth.get(factories.step_url(reference, key), htmx=htmx))
        response = auth.post(factories.step_url(reference, key), payloads[key], htmx=htmx)
        assert response.status_code in (200, 204, 303), (key, response.status_code)
        seen += _urls_of(response)
    assert application_row(app, reference)["status"] == "submitted"
    for url in ("/", "/opening/", f"/opening/{reference}/detail", f"/opening/{reference}/submitted"):
        seen += _urls_of(auth.get(url))
    assert len(seen) > 50
    for secret in (factories.CUSTOMER_ID, factories.CUSTOMER_ID[6:14], factories.AGENT_PASSPORT, "13812348000"):
        assert not [url for url in seen if secret in url], secret


def test_manager_sees_the_id_number_masked_and_clerk_sees_it_in_full(app):
    clerk, reference = _draft(app)
    masked = mask_id_number(factories.CUSTOMER_ID)
    assert masked == factories.CUSTOMER_ID[0] + "*" * 16 + factories.CUSTOMER_ID[-1]

    full = clerk.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert factories.CUSTOMER_ID in full

    for username in ("manager", "admin"):
        body = login_as(app, username).get(f"/opening/{reference}/detail").get_data(as_text=True)
        assert masked in body, username
        assert factories.CUSTOMER_ID not in body, username
        assert mask_mobile("13812348000") in body and "13812348000" not in body, username


def test_manager_sees_addresses_masked_on_the_detail_page(app):
    _clerk, reference = _draft(app)
    body = login_as(app, "manager").get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert "北京市朝阳区****" in body
    # Neither the contact address nor the address printed on the ID card shows the street.
    assert "建国路88号" not in body


def test_reading_a_step_is_audited(app):
    clerk, reference = _draft(app, until="verification")
    assert clerk.get(factories.step_url(reference, "identity")).status_code == 200
    assert clerk.get(factories.step_url(reference, "contact"), htmx=True).status_code == 200
    events = _views(app, reference)
    assert [e.detail["step"] for e in events] == ["identity", "contact"]
    clerk_id = staff_id(app, "clerk")
    assert all(e.actor_id == clerk_id and e.object_type == "application" for e in events)
    # The trail names the step, never the data read.
    assert all(factories.CUSTOMER_ID not in str(e.detail) for e in events)


def test_reading_the_detail_page_is_audited_for_the_reader(app):
    _clerk, reference = _draft(app)
    login_as(app, "manager").get(f"/opening/{reference}/detail")
    events = _views(app, reference)
    assert len(events) == 1
    assert events[0].actor_id == staff_id(app, "manager") and events[0].detail == {"step": "detail"}


def test_step_data_is_encrypted_at_rest(app):
    _clerk, reference = _draft(app)
    row = application_row(app, reference)
    assert row["steps"]["identity"]["id_number"] == factories.CUSTOMER_ID  # readable through the model
    with app.app_context():
        raw_steps = db.session.execute(text("SELECT step, data FROM application_step WHERE application_id = :id"),
                                       {"id": row["id"]}).all()
        raw_application = db.session.execute(text("SELECT id_number, id_number_index FROM application WHERE id = :id"),
                                             {"id": row["id"]}).one()
        raw_audit = db.session.execute(text("SELECT detail FROM audit_event")).scalars().all()
    assert {step for step, _data in raw_steps} >= {"identity", "contact", "agent"}
    for step, data in raw_steps:
        for secret in ("刘晓明", factories.CUSTOMER_ID, "13812348000", "建国路", "liuxm@example.com"):
            assert secret not in data, (step, secret)
            assert secret.encode("unicode_escape").decode() not in data, (step, secret)
    assert factories.CUSTOMER_ID not in raw_application[0]
    assert factories.CUSTOMER_ID not in raw_application[1]
    assert not [d for d in raw_audit if factories.CUSTOMER_ID in str(d) or "13812348000" in str(d)]
