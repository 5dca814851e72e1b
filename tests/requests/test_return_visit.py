"""Return visits (回访, 第十一条): the agent's queue, recording a call, activation, recordings."""
import io
import uuid
import wave

import pytest
from sqlalchemy import func, select

from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from blueprints.return_visit.models import CHECK_ITEMS, ReturnVisit
from core.extensions import db
from core.masking import mask_mobile
from core.models import AuditEvent
from core.roles import Role
from tests import factories
from tests.requests.helpers import add_staff, application_row, login_as, page_of, staff_id, status_changes

MOBILE = "13812348000"
ALL_BUT_AGENT = [key for key in CHECK_ITEMS if key != "agent"]
# A second customer, so two applications can be in flight at once without a consistency conflict.
OTHER_CUSTOMER = factories.identity(id_number=factories.make_id("110105", "19880612", "317"), name="陈晓东")


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    """Keep uploaded recordings in this test's own folder, never in the instance folder."""
    monkeypatch.setitem(app.config, "FILE_STORE", str(tmp_path / "files"))
    return tmp_path / "files"


def awaiting_visit(app, clerk="clerk", reviewer="reviewer", with_agent=False, identity=None) -> str:
    """An application submitted, approved and with its accounts opened: awaiting the return visit."""
    from blueprints.review import services as review
    from core import outbox

    auth = login_as(app, clerk)
    reference = factories.start(auth, f"tok-{uuid.uuid4().hex}")
    overrides = {"identity": identity} if identity else {}
    if with_agent:
        overrides["agent_data"] = factories.resident_agent()
    factories.walk_with(auth, reference, "summary", staff_id(app, clerk), **overrides)
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        checker = db.session.scalar(select(Staff).where(Staff.username == reviewer))
        review.approve(application, checker, checker)
        db.session.commit()
        outbox.run_once()
    assert application_row(app, reference)["status"] == "awaiting_return_visit"
    return reference


def shanghai_visit(app) -> str:
    """An application of the Shanghai branch awaiting its return visit."""
    add_staff(app, "reviewer_sh", Role.REVIEWER, "0201", "上海复核")
    return awaiting_visit(app, clerk="clerk_sh", reviewer="reviewer_sh", identity=OTHER_CUSTOMER)


def visit_url(reference: str) -> str:
    return f"/return-visits/{reference}"


def post_visit(auth, reference, outcome="passed", items=ALL_BUT_AGENT, notes="", recording=None, htmx=False):
    data = {"outcome": outcome, "items": list(items), "notes": notes}
    if recording is not None:
        data["recording"] = (io.BytesIO(recording[1]), recording[0])
    return auth.post(visit_url(reference), data, htmx=htmx, content_type="multipart/form-data")


def wav_bytes(frames: int = 800) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * frames)
    return buffer.getvalue()


def visits(app, reference) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(ReturnVisit).join(Application, Application.id == ReturnVisit.application_id)
                                  .where(Application.reference == reference).order_by(ReturnVisit.id))
        return [{"id": v.id, "attempt_no": v.attempt_no, "outcome": str(v.outcome), "items": v.items,
                 "notes": v.notes, "recording_sha256": v.recording_sha256, "recording_mime": v.recording_mime,
                 "recording_name": v.recording_name, "agent_id": v.agent_id} for v in rows]


def account_states(app, reference) -> tuple[str, list[str]]:
    with app.app_context():
        fund = db.session.scalar(select(FundAccount).join(Application, Application.id == FundAccount.application_id)
                                 .where(Application.reference == reference))
        securities = db.session.scalars(select(SecuritiesAccount.status)
                                        .where(SecuritiesAccount.fund_account_id == fund.id)).all()
        return str(fund.status), sorted(str(s) for s in securities)


def audit_events(app, action) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- the queue ---------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["clerk", "reviewer", "witness", "marketing", "archivist", "manager", "admin"])
def test_only_return_visit_agents_open_the_queue_and_the_visit_form(app, username):
    reference = awaiting_visit(app)
    other = login_as(app, username)
    assert other.get("/return-visits/").status_code == 403
    assert other.get(visit_url(reference)).status_code == 403
    assert post_visit(other, reference).status_code == 403
    assert other.post(f"{visit_url(reference)}/mobile").status_code == 403
    assert application_row(app, reference)["status"] == "awaiting_return_visit"


def test_queue_lists_the_branchs_accounts_awaiting_a_visit_with_masked_personal_data(app):
    reference = awaiting_visit(app)
    response = login_as(app, "visitor").get("/return-visits/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert reference in body
    assert "刘**" in body and "刘晓明" not in body
    assert mask_mobile(MOBILE) in body and MOBILE not in body
    with app.app_context():
        number = db.session.scalar(select(FundAccount.number))
    assert number in body
    assert f"/return-visits/{reference}" in page_of(response).urls


def test_queue_shows_only_the_agents_own_branch(app):
    beijing = awaiting_visit(app)
    shanghai = shanghai_visit(app)
    add_staff(app, "visitor_sh", Role.RETURN_VISIT, "0201", "上海回访")

    beijing_queue = login_as(app, "visitor").get("/return-visits/").get_data(as_text=True)
    assert beijing in beijing_queue and shanghai not in beijing_queue
    shanghai_queue = login_as(app, "visitor_sh").get("/return-visits/").get_data(as_text=True)
    assert shanghai in shanghai_queue and beijing not in shanghai_queue


def test_agent_of_another_branch_gets_404_for_the_visit(app):
    reference = awaiting_visit(app)
    add_staff(app, "visitor_sh", Role.RETURN_VISIT, "0201", "上海回访")
    shanghai = login_as(app, "visitor_sh")
    assert shanghai.get(visit_url(reference)).status_code == 404
    assert post_visit(shanghai, reference).status_code == 404
    assert shanghai.post(f"{visit_url(reference)}/mobile").status_code == 404
    assert visits(app, reference) == []
    assert application_row(app, reference)["status"] == "awaiting_return_visit"
    assert audit_events(app, "application.view") == []


def test_applications_before_account_opening_are_not_return_visit_material(app):
    clerk = login_as(app, "clerk")
    reference = factories.start(clerk, "tok-draft")
    factories.walk(clerk, reference, "summary", staff_id(app, "clerk"))
    agent = login_as(app, "visitor")
    assert agent.get(visit_url(reference)).status_code == 404
    assert post_visit(agent, reference).status_code == 404
    assert agent.post(f"{visit_url(reference)}/mobile").status_code == 404
    assert application_row(app, reference)["status"] == "draft"
    assert audit_events(app, "application.view") == []


# --- the visit form ------------------------------------------------------------------------------

def test_visit_page_shows_what_the_call_needs_and_audits_the_read(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = agent.get(visit_url(reference))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "刘晓明" in body  # the agent addresses the customer by name
    assert "现场开户" in body and "客户本人办理" in body
    investor_class = application_row(app, reference)["steps"]["suitability"]["investor_class"]
    assert investor_class in body
    # The mobile is masked until the agent asks for it.
    assert mask_mobile(MOBILE) in body and MOBILE not in body
    assert "显示完整号码" in body
    page = page_of(response)
    assert {i["value"] for i in page.inputs if i.get("name") == "items"} == set(ALL_BUT_AGENT)
    assert {i["value"] for i in page.inputs if i.get("name") == "outcome"} == {"passed", "failed", "not_reached", "refused"}
    assert [i for i in page.inputs if i.get("name") == "recording" and i.get("type") == "file"]
    assert 'enctype="multipart/form-data"' in body
    events = audit_events(app, "application.view")
    assert len(events) == 1
    assert events[0].object_id == reference and events[0].detail == {"step": "return_visit"}
    assert events[0].actor_id == staff_id(app, "visitor")


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_revealing_the_full_mobile_is_an_audited_post(app, htmx):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert audit_events(app, "customer.reveal_mobile") == []
    assert agent.get(f"{visit_url(reference)}/mobile").status_code == 405
    response = agent.post(f"{visit_url(reference)}/mobile", htmx=htmx)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert MOBILE in body
    if htmx:
        assert 'id="customer-mobile"' in body and "<html" not in body
    events = audit_events(app, "customer.reveal_mobile")
    assert len(events) == 1
    assert events[0].object_id == reference and events[0].actor_id == staff_id(app, "visitor")
    assert MOBILE not in str(events[0].detail)


def test_passed_visit_with_every_item_activates_the_accounts(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = post_visit(agent, reference, notes="客户确认本人开户")
    assert response.status_code == 303
    assert response.headers["Location"] == "/return-visits/"
    assert application_row(app, reference)["status"] == "active"
    assert account_states(app, reference) == ("active", ["active", "active"])
    [visit] = visits(app, reference)
    assert visit["outcome"] == "passed" and visit["attempt_no"] == 1
    assert set(visit["items"]) == set(ALL_BUT_AGENT)
    assert visit["agent_id"] == staff_id(app, "visitor")
    assert status_changes(app, reference)[-1][:2] == ("awaiting_return_visit", "active")

    queue = agent.get("/return-visits/").get_data(as_text=True)
    assert "已接通，回访通过" in queue and "账户已激活" in queue  # the flash names the outcome
    assert f'data-reference="{reference}"' not in queue


def test_passed_visit_through_htmx_redirects_to_the_queue(app):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/return-visits/"
    assert application_row(app, reference)["status"] == "active"


@pytest.mark.parametrize("missing", ALL_BUT_AGENT)
def test_passed_visit_with_an_item_missing_is_refused_and_nothing_is_recorded(app, missing):
    reference = awaiting_visit(app)
    items = [key for key in ALL_BUT_AGENT if key != missing]
    response = post_visit(login_as(app, "visitor"), reference, items=items, notes="已核对")
    assert response.status_code == 422
    page = page_of(response)
    [message] = page.errors_for("items")
    assert CHECK_ITEMS[missing] in message
    # Everything typed is kept.
    assert set(page.checked("items")) == set(items)
    assert page.checked("outcome") == ["passed"]
    assert "已核对" in page.html
    assert visits(app, reference) == []
    assert application_row(app, reference)["status"] == "awaiting_return_visit"
    assert account_states(app, reference) == ("inactive", ["inactive", "inactive"])


def test_refusal_through_htmx_returns_the_form_fragment_with_the_message(app):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, items=["identity"], htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="visit-form">') and "<html" not in body
    assert CHECK_ITEMS["true_wish"] in page_of(response).errors_for("items")[0]


def test_agent_item_is_required_when_an_agent_opened(app):
    reference = awaiting_visit(app, with_agent=True)
    agent = login_as(app, "visitor")
    page = page_of(agent.get(visit_url(reference)))
    assert "agent" in {i["value"] for i in page.inputs if i.get("name") == "items"}
    assert "刘建华" in page.html  # the agent's name, for confirming their identity and authority

    response = post_visit(agent, reference, items=ALL_BUT_AGENT)
    assert response.status_code == 422
    assert CHECK_ITEMS["agent"] in page_of(response).errors_for("items")[0]
    assert visits(app, reference) == []

    assert post_visit(agent, reference, items=list(CHECK_ITEMS)).status_code == 303
    assert application_row(app, reference)["status"] == "active"
    assert "agent" in visits(app, reference)[0]["items"]


def test_agent_item_is_neither_shown_nor_required_without_an_agent(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert CHECK_ITEMS["agent"] not in agent.get(visit_url(reference)).get_data(as_text=True)
    assert post_visit(agent, reference, items=ALL_BUT_AGENT).status_code == 303
    assert application_row(app, reference)["status"] == "active"


def test_failed_visit_needs_notes_and_leaves_the_account_inactive_with_the_reason(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = post_visit(agent, reference, outcome="failed", items=["identity"], notes="   ")
    assert response.status_code == 422
    assert page_of(response).errors_for("notes")
    assert page_of(response).checked("items") == ["identity"]
    assert visits(app, reference) == []

    reason = "客户表示未阅读风险揭示书，不理解相关条款"
    assert post_visit(agent, reference, outcome="failed", items=["identity"], notes=reason).status_code == 303
    assert application_row(app, reference)["status"] == "inactive"
    assert status_changes(app, reference)[-1] == ("awaiting_return_visit", "inactive", reason)
    assert account_states(app, reference) == ("inactive", ["inactive", "inactive"])
    assert f'data-reference="{reference}"' not in agent.get("/return-visits/").get_data(as_text=True)


def test_refused_visit_leaves_the_account_inactive(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="refused", items=[]).status_code == 422
    assert post_visit(agent, reference, outcome="refused", items=[], notes="客户拒绝接受回访").status_code == 303
    assert application_row(app, reference)["status"] == "inactive"
    assert status_changes(app, reference)[-1] == ("awaiting_return_visit", "inactive", "客户拒绝接受回访")
    assert [v["outcome"] for v in visits(app, reference)] == ["refused"]


def test_missing_outcome_is_refused_next_to_the_outcome(app):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, outcome="", notes="备注")
    assert response.status_code == 422
    assert page_of(response).errors_for("outcome") == ["请选择回访结果"]
    assert visits(app, reference) == []


def test_not_reached_keeps_the_account_in_the_queue_and_counts_the_attempt(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="not_reached", items=[], notes="无人接听").status_code == 303
    assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert application_row(app, reference)["status"] == "awaiting_return_visit"
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2]
    queue = page_of(agent.get("/return-visits/"))
    assert reference in queue.html
    row = queue.html.split(f'data-reference="{reference}"')[1].split("</tr>")[0]
    assert "<td>2</td>" in row
    page = agent.get(visit_url(reference)).get_data(as_text=True)
    assert "第 2 次" in page and "无人接听" in page

    assert post_visit(agent, reference).status_code == 303
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2, 3]
    assert application_row(app, reference)["status"] == "active"


def test_a_second_visit_after_activation_is_refused(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference).status_code == 303
    response = post_visit(agent, reference)
    assert response.status_code == 422
    assert "不在回访队列中" in page_of(response).errors_for("outcome")[0]
    assert len(visits(app, reference)) == 1
    assert "不在回访队列中" in agent.get(visit_url(reference)).get_data(as_text=True)
    assert agent.post(f"{visit_url(reference)}/mobile").status_code == 403


# --- call recordings -----------------------------------------------------------------------------

def test_wav_recording_is_stored_and_downloadable_by_the_agent_and_manager(app, file_store):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    recording = wav_bytes()
    assert post_visit(agent, reference, recording=("回访录音.wav", recording)).status_code == 303
    [visit] = visits(app, reference)
    assert visit["recording_mime"] == "audio/wav" and visit["recording_name"] == "回访录音.wav"
    assert file_store.exists() and any(file_store.rglob(visit["recording_sha256"]))

    url = f"{visit_url(reference)}/recording/{visit['id']}"
    assert url in page_of(agent.get(visit_url(reference))).urls
    for username in ("visitor", "manager"):
        response = login_as(app, username).get(url)
        assert response.status_code == 200, username
        assert response.data == recording
        assert response.mimetype == "audio/wav"
        assert response.headers["Content-Disposition"].startswith("attachment")
    events = audit_events(app, "return_visit.recording_download")
    assert [e.actor_id for e in events] == [staff_id(app, "visitor"), staff_id(app, "manager")]
    assert all(e.object_id == reference and e.detail["visit_id"] == visit["id"] for e in events)


def test_recording_download_needs_the_role_and_the_branch(app):
    reference = awaiting_visit(app)
    assert post_visit(login_as(app, "visitor"), reference, recording=("call.wav", wav_bytes())).status_code == 303
    url = f"{visit_url(reference)}/recording/{visits(app, reference)[0]['id']}"
    for username in ("clerk", "reviewer", "archivist", "admin"):
        assert login_as(app, username).get(url).status_code == 403, username
    add_staff(app, "visitor_sh", Role.RETURN_VISIT, "0201", "上海回访")
    add_staff(app, "manager_sh", Role.BRANCH_MANAGER, "0201", "上海经理")
    for username in ("visitor_sh", "manager_sh"):
        assert login_as(app, username).get(url).status_code == 404, username
    assert audit_events(app, "return_visit.recording_download") == []


def test_recording_of_another_application_is_not_served_under_this_reference(app):
    beijing = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, beijing, outcome="not_reached", items=[], recording=("a.wav", wav_bytes())).status_code == 303
    other = awaiting_visit(app, identity=OTHER_CUSTOMER)
    visit_id = visits(app, beijing)[0]["id"]
    assert agent.get(f"{visit_url(other)}/recording/{visit_id}").status_code == 404
    assert agent.get(f"{visit_url(beijing)}/recording/999999").status_code == 404


@pytest.mark.parametrize("name, content, message", [
    ("call.mp3", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "不是允许的格式"),
    ("call.mp3", "这是一段文字，不是录音。".encode(), "不是允许的格式"),
    ("call.wav", b"", "文件为空"),
])
def test_recording_that_is_not_audio_is_refused_next_to_the_field(app, name, content, message):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, notes="已核对", recording=(name, content))
    assert response.status_code == 422
    page = page_of(response)
    assert [m for m in page.errors_for("recording") if message in m]
    assert page.checked("outcome") == ["passed"] and set(page.checked("items")) == set(ALL_BUT_AGENT)
    assert visits(app, reference) == []
    assert application_row(app, reference)["status"] == "awaiting_return_visit"


def test_recording_over_the_size_limit_is_refused(app, monkeypatch):
    reference = awaiting_visit(app)
    monkeypatch.setitem(app.config, "MAX_RECORDING_BYTES", 1000)
    response = post_visit(login_as(app, "visitor"), reference, recording=("long.wav", wav_bytes(frames=2000)))
    assert response.status_code == 422
    assert [m for m in page_of(response).errors_for("recording") if "文件过大" in m]
    assert visits(app, reference) == []


def test_visit_without_a_recording_is_recorded_without_one(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = agent.post(visit_url(reference), {"outcome": "passed", "items": ALL_BUT_AGENT, "notes": "",
                                                 "recording": (io.BytesIO(b""), "")},
                          content_type="multipart/form-data")
    assert response.status_code == 303
    assert visits(app, reference)[0]["recording_sha256"] is None


def test_return_visit_requires_the_csrf_token(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = agent.client.post(visit_url(reference), data={"outcome": "passed", "items": ALL_BUT_AGENT})
    assert response.status_code == 400
    assert visits(app, reference) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReturnVisit)) == 0
