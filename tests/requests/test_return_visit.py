"""Return visits (回访, 第十一条): the agent's queue, recording a call, retries, activation, recordings,
and the branch manager's list of accounts whose visits did not pass."""
import io
import re
import uuid
import wave

import pytest
from sqlalchemy import event, func, select

from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from blueprints.return_visit.models import CHECK_ITEMS, ReturnVisit, ReturnVisitCase, ReturnVisitCaseChange
from core.extensions import db
from core.masking import mask_id_number, mask_mobile
from core.models import AuditEvent
from core.roles import Role
from core.storage import LocalStore
from tests import factories
from tests.requests.helpers import Page, add_staff, application_row, login_as, page_of, staff_id

MOBILE = "13812348000"
ALL_BUT_AGENT = [key for key in CHECK_ITEMS if key != "agent"]
# A second customer, so two applications can be in flight at once without a consistency conflict.
OTHER_CUSTOMER = factories.identity(id_number=factories.make_id("110105", "19880612", "317"), name="陈晓东")


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    """Keep uploaded recordings in this test's own folder, never in the instance folder."""
    store = LocalStore(str(tmp_path / "files"))
    monkeypatch.setitem(app.extensions, "file_store", store)
    return store


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
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    return reference


def shanghai_visit(app) -> str:
    """An application of the Shanghai branch awaiting its return visit."""
    add_staff(app, "reviewer_sh", Role.REVIEWER, "0201", "上海复核")
    return awaiting_visit(app, clerk="clerk_sh", reviewer="reviewer_sh", identity=OTHER_CUSTOMER)


def visit_url(reference: str) -> str:
    return f"/return-visits/{reference}"


def next_attempt_no(app, reference) -> int:
    return max([v["attempt_no"] for v in visits(app, reference)], default=0) + 1


def post_visit(auth, reference, outcome="passed", items=ALL_BUT_AGENT, notes="", recording=None, htmx=False,
               attempt_no=None):
    """Submit the call form as the browser does, for the attempt it was opened for (by default the next one)."""
    if attempt_no is None:
        attempt_no = next_attempt_no(auth.client.application, reference)
    data = {"outcome": outcome, "items": list(items), "notes": notes, "attempt_no": str(attempt_no)}
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
        return [{"id": v.id, "attempt_no": v.attempt_no, "round_no": v.round_no, "outcome": str(v.outcome), "items": v.items,
                 "notes": v.notes, "recording_sha256": v.recording_sha256, "recording_mime": v.recording_mime,
                 "recording_name": v.recording_name, "agent_id": v.agent_id} for v in rows]


def case_changes(app, reference) -> list[tuple[str | None, str, str | None]]:
    """The moves of the application's return-visit case: (from, to, reason), oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(ReturnVisitCaseChange.from_status, ReturnVisitCaseChange.to_status, ReturnVisitCaseChange.reason)
            .join(ReturnVisitCase, ReturnVisitCase.id == ReturnVisitCaseChange.case_id)
            .join(Application, Application.id == ReturnVisitCase.application_id)
            .where(Application.reference == reference).order_by(ReturnVisitCaseChange.id)).all()
        return [tuple(row) for row in rows]


def account_states(app, reference) -> tuple[str, list[str]]:
    with app.app_context():
        fund = db.session.scalar(select(FundAccount).join(Application, Application.id == FundAccount.application_id)
                                 .where(Application.reference == reference))
        securities = db.session.scalars(select(SecuritiesAccount.status)
                                        .where(SecuritiesAccount.fund_account_id == fund.id)).all()
        return str(fund.status), sorted(str(s) for s in securities)


def queue_row(html: str, reference: str) -> str:
    """The HTML of one account's row in the queue."""
    assert f'data-reference="{reference}"' in html, reference
    return html.split(f'data-reference="{reference}"')[1].split("</tr>")[0]


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
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"


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
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
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
    # The agent addresses the customer by the masked name and checks the ID's last four digits only.
    assert "刘晓明" not in body and "请问是刘**先生本人吗？" in body
    assert factories.CUSTOMER_ID not in body and factories.CUSTOMER_ID[6:14] not in body
    assert "*" * 14 + factories.CUSTOMER_ID[-4:] in body
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
    assert audit_events(app, "customer.reveal") == []
    assert agent.get(f"{visit_url(reference)}/mobile").status_code == 405
    response = agent.post(f"{visit_url(reference)}/mobile", htmx=htmx)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert MOBILE in body
    if htmx:
        assert 'id="customer-mobile"' in body and "<html" not in body
    events = audit_events(app, "customer.reveal")
    assert len(events) == 1
    assert events[0].object_type == "customer" and events[0].object_id.startswith("C0101")
    assert events[0].detail == {"field": "mobile", "application": reference}
    assert events[0].actor_id == staff_id(app, "visitor")
    assert MOBILE not in str(events[0].detail)


def test_passed_visit_with_every_item_activates_the_accounts(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = post_visit(agent, reference, notes="客户确认本人开户")
    assert response.status_code == 303
    assert response.headers["Location"] == "/return-visits/"
    assert application_row(app, reference)["stage"] == "active"
    assert account_states(app, reference) == ("active", ["active", "active"])
    [visit] = visits(app, reference)
    assert visit["outcome"] == "passed" and visit["attempt_no"] == 1
    assert set(visit["items"]) == set(ALL_BUT_AGENT)
    assert visit["agent_id"] == staff_id(app, "visitor")
    assert case_changes(app, reference)[-1][:2] == ("awaiting", "passed")

    queue = agent.get("/return-visits/").get_data(as_text=True)
    assert "已接通，回访通过" in queue and "账户已激活" in queue  # the flash names the outcome
    assert f'data-reference="{reference}"' not in queue


def test_passed_visit_through_htmx_redirects_to_the_queue(app):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/return-visits/"
    assert application_row(app, reference)["stage"] == "active"


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
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
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
    # The agent's masked name, relationship and notarisation, for confirming their identity and authority.
    agent_script = page.html.split('id="script-agent"')[1].split('id="script-risk_understood"')[0]
    assert "刘建华" not in page.html and "刘**" in agent_script
    assert "父母" in agent_script and factories.agent()["notarization_no"] in agent_script

    response = post_visit(agent, reference, items=ALL_BUT_AGENT)
    assert response.status_code == 422
    assert CHECK_ITEMS["agent"] in page_of(response).errors_for("items")[0]
    assert visits(app, reference) == []

    assert post_visit(agent, reference, items=list(CHECK_ITEMS)).status_code == 303
    assert application_row(app, reference)["stage"] == "active"
    assert "agent" in visits(app, reference)[0]["items"]


def test_agent_item_is_neither_shown_nor_required_without_an_agent(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert CHECK_ITEMS["agent"] not in agent.get(visit_url(reference)).get_data(as_text=True)
    assert post_visit(agent, reference, items=ALL_BUT_AGENT).status_code == 303
    assert application_row(app, reference)["stage"] == "active"


def test_failed_visit_needs_notes_and_goes_back_to_the_queue_for_attempt_2(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = post_visit(agent, reference, outcome="failed", items=["identity"], notes="   ")
    assert response.status_code == 422
    assert page_of(response).errors_for("notes")
    assert page_of(response).checked("items") == ["identity"]
    assert visits(app, reference) == []

    reason = "客户表示未阅读风险揭示书，不理解相关条款"
    assert post_visit(agent, reference, outcome="failed", items=["identity"], notes=reason).status_code == 303
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert case_changes(app, reference)[-1][1] == "awaiting"  # no transition: still queued
    assert account_states(app, reference) == ("inactive", ["inactive", "inactive"])
    assert visits(app, reference)[0]["notes"] == reason
    queue = agent.get("/return-visits/").get_data(as_text=True)
    assert "本轮还可回访 2 次" in queue
    row = queue_row(queue, reference)
    assert 'data-attempts="1"' in row and "已接通，回访未通过" in row and "继续回访" in row
    page = page_of(agent.get(visit_url(reference)))
    assert page.value("attempt_no") == "2" and "第 2 次" in page.html and reason in page.html


def test_refused_visit_counts_as_an_attempt_and_stays_in_the_queue(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="refused", items=[]).status_code == 422
    assert post_visit(agent, reference, outcome="refused", items=[], notes="客户拒绝接受回访").status_code == 303
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert [(v["attempt_no"], v["outcome"]) for v in visits(app, reference)] == [(1, "refused")]
    assert 'data-attempts="1"' in queue_row(agent.get("/return-visits/").get_data(as_text=True), reference)


def test_missing_outcome_is_refused_next_to_the_outcome(app):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, outcome="", notes="备注")
    assert response.status_code == 422
    assert page_of(response).errors_for("outcome") == ["请选择回访结果"]
    assert visits(app, reference) == []


def test_not_reached_keeps_the_account_in_the_queue_and_counts_the_attempt(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    response = post_visit(agent, reference, outcome="not_reached", items=["identity"], notes="无人接听")
    assert response.status_code == 422  # nothing can have been confirmed on a call nobody answered
    assert "未接通" in page_of(response).errors_for("items")[0] and page_of(response).checked("items") == ["identity"]
    assert post_visit(agent, reference, outcome="not_reached", items=[], notes="无人接听").status_code == 303
    assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2]
    row = queue_row(agent.get("/return-visits/").get_data(as_text=True), reference)
    assert 'data-attempts="2"' in row and "2 / 3" in row and "未接通" in row
    page = agent.get(visit_url(reference)).get_data(as_text=True)
    assert "第 2 次" in page and "无人接听" in page

    assert post_visit(agent, reference).status_code == 303
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2, 3]
    assert application_row(app, reference)["stage"] == "active"


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
    assert file_store.exists(visit["recording_sha256"])

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
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"


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


# --- retries, the attempt allowance and the branch manager ----------------------------------------

MANAGER_LIST = "/return-visits/escalated"


def case_url(reference: str) -> str:
    return f"{MANAGER_LIST}/{reference}"


def send_back_url(reference: str) -> str:
    return f"{case_url(reference)}/send-back"


def customer(seq: str, name: str) -> dict:
    """Another man born 1988-06-12, so several applications can be in flight at once."""
    return factories.identity(id_number=factories.make_id("110105", "19880612", seq), name=name)


def use_up_round(app, reference, agent=None, outcomes=("failed", "not_reached", "refused")) -> None:
    """Record unsuccessful calls until the round's allowance is used up."""
    agent = agent or login_as(app, "visitor")
    for outcome in outcomes:
        items = [] if outcome == "not_reached" else ["identity"]
        assert post_visit(agent, reference, outcome=outcome, items=items, notes=f"{outcome}：未能完成回访").status_code == 303
    assert application_row(app, reference)["stage"] == "inactive"


def escalated_visit(app, monkeypatch, **kwargs) -> str:
    """An application handed to the branch manager after one unsuccessful call (allowance set to 1)."""
    monkeypatch.setitem(app.config, "RETURN_VISIT_MAX_ATTEMPTS", 1)
    reference = awaiting_visit(app, **kwargs)
    use_up_round(app, reference, login_as(app, "visitor_sh" if kwargs.get("clerk") == "clerk_sh" else "visitor"),
                 outcomes=("not_reached",))
    return reference


def case_block(html: str, reference: str) -> str:
    assert f'id="case-{reference}"' in html, reference
    return html.split(f'id="case-{reference}"')[1].split("</article>")[0]


def textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, name
    return match.group(1).strip()


def count_queries(app, call) -> int:
    """How many SQL statements `call` makes."""
    statements = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_unsuccessful_calls_up_to_the_limit_hand_the_account_to_the_branch_manager(app, file_store):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="failed", items=["identity"], notes="客户对风险揭示书内容不清楚",
                      recording=("第一次.wav", wav_bytes())).status_code == 303
    assert post_visit(agent, reference, outcome="not_reached", items=[], notes="无人接听").status_code == 303
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert "本次为本轮最后一次回访" in agent.get(visit_url(reference)).get_data(as_text=True)

    assert post_visit(agent, reference, outcome="refused", items=[], notes="客户拒绝接受回访").status_code == 303
    assert application_row(app, reference)["stage"] == "inactive"
    assert account_states(app, reference) == ("inactive", ["inactive", "inactive"])
    before, after, reason = case_changes(app, reference)[-1]
    assert (before, after) == ("awaiting", "escalated")
    assert "3 次未成功" in reason and "营业部负责人" in reason and "客户拒绝接受回访" in reason
    # It leaves the agents' queue and cannot be called again until the manager sends it back.
    queue = agent.get("/return-visits/").get_data(as_text=True)
    assert "已转营业部负责人处理" in queue and f'data-reference="{reference}"' not in queue
    page = page_of(agent.get(visit_url(reference)))
    assert "未激活（回访未通过，待负责人处理）" in page.html and not page.checked("outcome")
    assert not [i for i in page.inputs if i.get("name") == "outcome"]
    assert post_visit(agent, reference).status_code == 422
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2, 3]

    manager = login_as(app, "manager")
    response = manager.get(MANAGER_LIST)
    assert response.status_code == 200
    case = case_block(response.get_data(as_text=True), reference)
    for text in ("第 1 次", "第 2 次", "第 3 次", "孙回访", "已接通，回访未通过", "未接通", "客户拒绝回访",
                 "客户对风险揭示书内容不清楚", "无人接听", "刘**"):
        assert text in case, text
    assert "刘晓明" not in response.get_data(as_text=True)
    recording_url = f"{visit_url(reference)}/recording/{visits(app, reference)[0]['id']}"
    assert recording_url in page_of(response).urls
    assert manager.get(recording_url).status_code == 200
    [event_] = audit_events(app, "return_visit.escalated_view")
    assert reference in event_.detail["references"] and event_.actor_id == staff_id(app, "manager")

    body = manager.get(case_url(reference)).get_data(as_text=True)
    assert "未激活（回访未通过，待负责人处理）" in body and "退回重新回访" in body
    assert factories.CUSTOMER_ID not in body and mask_id_number(factories.CUSTOMER_ID) in body
    assert MOBILE not in body and mask_mobile(MOBILE) in body
    assert [e.detail for e in audit_events(app, "application.view") if e.actor_id == staff_id(app, "manager")] == [
        {"step": "return_visit_escalated"}]


def test_the_attempt_limit_is_the_return_visit_max_attempts_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "RETURN_VISIT_MAX_ATTEMPTS", 2)
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert "1 / 2" in queue_row(agent.get("/return-visits/").get_data(as_text=True), reference)
    assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert application_row(app, reference)["stage"] == "inactive"


def test_branch_manager_sends_the_account_back_for_a_fresh_round_with_the_reason(app):
    reference = awaiting_visit(app)
    use_up_round(app, reference)
    manager = login_as(app, "manager")
    reason = "已与客户电话沟通，客户同意重新回访，请于工作日白天联系"
    response = manager.post(send_back_url(reference), {"reason": reason})
    assert response.status_code == 303 and response.headers["Location"] == MANAGER_LIST
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert case_changes(app, reference)[-1] == ("escalated", "awaiting", reason)
    [sent] = audit_events(app, "application.return_visit_send_back")
    assert sent.object_id == reference and sent.actor_id == staff_id(app, "manager") and sent.detail == {"round": 2}
    listing = manager.get(MANAGER_LIST).get_data(as_text=True)
    assert "开始第 2 轮回访" in listing and f'id="case-{reference}"' not in listing
    # A second send-back (a late double submit) changes nothing.
    again = manager.post(send_back_url(reference), {"reason": reason})
    assert again.status_code == 422 and "无需退回回访队列" in page_of(again).errors_for("reason")[0]
    assert [c[:2] for c in case_changes(app, reference)].count(("escalated", "awaiting")) == 1

    # Back in the agents' queue, untried in the new round, with the manager's reason on the call screen.
    agent = login_as(app, "visitor")
    row = queue_row(agent.get("/return-visits/").get_data(as_text=True), reference)
    assert 'data-attempts="0"' in row and "0 / 3" in row and "第 2 轮" in row
    page = agent.get(visit_url(reference)).get_data(as_text=True)
    assert reason in page and "吴经理" in page and "第 2 轮" in page and "第 4 次" in page

    # The new round has the full allowance again: two more misses keep it queued, the third hands it over.
    for _ in range(2):
        assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert post_visit(agent, reference, outcome="failed", items=[], notes="客户仍不确认开户意愿").status_code == 303
    assert application_row(app, reference)["stage"] == "inactive"
    assert [(v["attempt_no"], v["round_no"]) for v in visits(app, reference)] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]
    assert f'id="case-{reference}"' in manager.get(MANAGER_LIST).get_data(as_text=True)


def test_pass_after_a_failed_attempt_activates_the_accounts(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="failed", items=["identity"], notes="客户不理解风险条款").status_code == 303
    assert post_visit(agent, reference, notes="再次讲解后客户确认").status_code == 303
    assert application_row(app, reference)["stage"] == "active"
    assert account_states(app, reference) == ("active", ["active", "active"])
    assert [(v["attempt_no"], v["outcome"]) for v in visits(app, reference)] == [(1, "failed"), (2, "passed")]


def test_pass_in_a_round_sent_back_by_the_manager_activates_the_accounts(app):
    reference = awaiting_visit(app)
    use_up_round(app, reference)
    assert login_as(app, "manager").post(send_back_url(reference), {"reason": "客户已回电，请重新回访"}).status_code == 303
    assert post_visit(login_as(app, "visitor"), reference).status_code == 303
    assert application_row(app, reference)["stage"] == "active"
    assert account_states(app, reference) == ("active", ["active", "active"])


def test_a_new_attempts_form_starts_empty_and_a_refused_one_keeps_what_was_typed(app):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, outcome="failed", items=["identity", "true_wish"],
                      notes="客户表示需再考虑").status_code == 303
    html = agent.get(visit_url(reference)).get_data(as_text=True)
    page = Page(html)
    assert page.checked("items") == [] and page.checked("outcome") == []
    assert textarea(html, "notes") == ""
    assert page.value("attempt_no") == "2"
    assert "客户表示需再考虑" in html.split('id="visit-attempts"')[1]  # shown only in the record of attempt 1

    response = post_visit(agent, reference, outcome="passed", items=["identity"], notes="第二次已核对身份", htmx=True)
    assert response.status_code == 422
    refused = page_of(response)
    assert refused.checked("items") == ["identity"] and refused.checked("outcome") == ["passed"]
    assert textarea(refused.html, "notes") == "第二次已核对身份"
    assert refused.value("attempt_no") == "2"
    assert len(visits(app, reference)) == 1


@pytest.mark.parametrize("attempt_no", ["2", "0", "abc"])
def test_a_form_for_another_attempt_number_is_refused_next_to_the_outcome(app, attempt_no):
    reference = awaiting_visit(app)
    response = post_visit(login_as(app, "visitor"), reference, attempt_no=attempt_no, notes="已核对")
    assert response.status_code == 422
    assert "请刷新页面" in page_of(response).errors_for("outcome")[0]
    assert page_of(response).checked("outcome") == ["passed"]
    assert visits(app, reference) == []


@pytest.mark.parametrize("outcome", ["not_reached", "passed"])
def test_double_submit_records_one_attempt(app, outcome):
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    items = ALL_BUT_AGENT if outcome == "passed" else []
    first = post_visit(agent, reference, outcome=outcome, items=items, attempt_no=1)
    second = post_visit(agent, reference, outcome=outcome, items=items, attempt_no=1)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == "/return-visits/"
    assert "重复提交未再保存" in agent.get("/return-visits/").get_data(as_text=True)
    assert len(visits(app, reference)) == 1
    assert len(audit_events(app, "application.return_visit")) == 1
    if outcome == "passed":
        assert [c[:2] for c in case_changes(app, reference)].count(("awaiting", "passed")) == 1


def test_simultaneous_submits_of_one_form_record_one_attempt(app):
    from tests.concurrency.test_concurrent_requests import _race

    reference = awaiting_visit(app)
    first, second = login_as(app, "visitor"), login_as(app, "visitor")
    responses = _race([lambda: post_visit(first, reference, outcome="not_reached", items=[], attempt_no=1),
                       lambda: post_visit(second, reference, outcome="not_reached", items=[], attempt_no=1)])
    assert sorted(r.status_code for r in responses) == [303, 303]
    assert len(visits(app, reference)) == 1


def test_a_colleagues_call_recorded_meanwhile_is_not_overwritten(app):
    reference = awaiting_visit(app)
    add_staff(app, "visitor2", Role.RETURN_VISIT, "0101", "钱回访")
    assert post_visit(login_as(app, "visitor"), reference, outcome="not_reached", items=[], attempt_no=1).status_code == 303
    colleague = login_as(app, "visitor2")
    response = post_visit(colleague, reference, outcome="failed", items=["identity"], notes="客户犹豫", attempt_no=1)
    assert response.status_code == 422
    page = page_of(response)
    [message] = page.errors_for("outcome")
    assert "第 1 次回访已由孙回访" in message and "本次未保存" in message
    assert page.checked("outcome") == ["failed"] and textarea(page.html, "notes") == "客户犹豫"
    assert page.value("attempt_no") == "2"  # submitting again, knowingly, records it as the next attempt
    assert [v["agent_id"] for v in visits(app, reference)] == [staff_id(app, "visitor")]
    assert post_visit(colleague, reference, outcome="failed", items=["identity"], notes="客户犹豫",
                      attempt_no=2).status_code == 303
    assert [v["attempt_no"] for v in visits(app, reference)] == [1, 2]


def test_an_insert_that_loses_the_race_past_the_checks_is_reported_as_already_recorded(app, monkeypatch):
    from blueprints.return_visit import services

    reference = awaiting_visit(app)
    colleague_id = add_staff(app, "visitor2", Role.RETURN_VISIT, "0101", "钱回访")
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        original, seen = services.round_state, []

        def colleague_lands_first(application):
            state = original(application)
            seen.append(state)
            if len(seen) == 2:  # the checks have passed; the colleague's call is written before ours
                db.session.add(ReturnVisit(application_id=application.id, attempt_no=state.next_attempt_no, round_no=1,
                                           agent_id=colleague_id, outcome="not_reached", items=[]))
                db.session.flush()
            return state

        monkeypatch.setattr(services, "round_state", colleague_lands_first)
        with pytest.raises(services.AlreadyRecorded) as raised:
            services.record_visit(application, agent, "failed", ["identity"], "客户犹豫", attempt_no=1)
        assert raised.value.visit.agent_id == colleague_id
        db.session.commit()
    assert [(v["attempt_no"], v["agent_id"]) for v in visits(app, reference)] == [(1, colleague_id)]
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"


def test_queue_puts_the_untried_first_then_the_longest_waiting_and_the_not_reached_last(app):
    not_reached = awaiting_visit(app, identity=customer("319", "周一鸣"))
    failed = awaiting_visit(app, identity=customer("331", "吴二强"))
    untried_first = awaiting_visit(app, identity=customer("335", "郑三立"))
    untried_second = awaiting_visit(app, identity=customer("337", "冯四海"))
    agent = login_as(app, "visitor")
    assert post_visit(agent, not_reached, outcome="not_reached", items=[], notes="无人接听").status_code == 303
    assert post_visit(agent, failed, outcome="failed", items=["identity"], notes="客户需再考虑").status_code == 303
    html = agent.get("/return-visits/").get_data(as_text=True)
    assert re.findall(r'data-reference="(KH\d+)"', html) == [untried_first, untried_second, failed, not_reached]
    row = queue_row(html, failed)
    assert "1 / 3" in row and "已接通，回访未通过" in row
    tried_at = re.sub(r"<[^>]+>", "", row.split('class="last-outcome"')[1].split("</td>")[0])
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", tried_at)  # when it was tried
    assert "开始回访" in queue_row(html, untried_first)


def test_queue_and_manager_list_read_the_same_number_of_queries_however_long(app, monkeypatch):
    agent = login_as(app, "visitor")
    manager = login_as(app, "manager")
    first = awaiting_visit(app)
    assert post_visit(agent, first, outcome="not_reached", items=[]).status_code == 303
    queue_one = count_queries(app, lambda: agent.get("/return-visits/"))
    for seq, name in (("319", "周一鸣"), ("331", "吴二强")):
        reference = awaiting_visit(app, identity=customer(seq, name))
        assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    assert count_queries(app, lambda: agent.get("/return-visits/")) == queue_one

    monkeypatch.setitem(app.config, "RETURN_VISIT_MAX_ATTEMPTS", 2)
    assert post_visit(agent, first, outcome="failed", items=[], notes="客户不配合").status_code == 303
    list_one = count_queries(app, lambda: manager.get(MANAGER_LIST))
    for reference in re.findall(r'data-reference="(KH\d+)"', agent.get("/return-visits/").get_data(as_text=True)):
        assert post_visit(agent, reference, outcome="not_reached", items=[]).status_code == 303
    listing = manager.get(MANAGER_LIST).get_data(as_text=True)
    assert len(re.findall(r'<article class="case"', listing)) == 3
    assert count_queries(app, lambda: manager.get(MANAGER_LIST)) == list_one


def test_script_reads_each_item_with_the_firm_name_from_the_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "FIRM_NAME", "某某证券有限责任公司")
    reference = awaiting_visit(app)
    html = login_as(app, "visitor").get(visit_url(reference)).get_data(as_text=True)
    assert "您好，我是某某证券有限责任公司的回访专员" in html
    for key in ALL_BUT_AGENT:
        block = html.split(f'id="script-{key}"')[1].split('class="script-item"')[0]
        assert f'value="{key}"' in block and CHECK_ITEMS[key] in block  # the checkbox beside its script
    channel = html.split('id="script-channel_confirmed"')[1]
    assert "在营业部柜台现场办理" in channel and "北京朝阳门营业部" in channel
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", channel)


@pytest.mark.parametrize("username", ["visitor", "clerk", "reviewer", "witness", "marketing", "archivist"])
def test_only_the_branch_manager_and_hq_reach_the_escalated_accounts(app, monkeypatch, username):
    reference = escalated_visit(app, monkeypatch)
    other = login_as(app, username)
    assert other.get(MANAGER_LIST).status_code == 403
    assert other.get(case_url(reference)).status_code == 403
    assert other.post(send_back_url(reference), {"reason": "请重新回访"}).status_code == 403
    assert application_row(app, reference)["stage"] == "inactive"


def test_manager_of_another_branch_gets_404_and_hq_sees_all_without_sending_back(app, monkeypatch):
    beijing = escalated_visit(app, monkeypatch, with_agent=False)
    add_staff(app, "visitor_sh", Role.RETURN_VISIT, "0201", "上海回访")
    add_staff(app, "reviewer_sh", Role.REVIEWER, "0201", "上海复核")
    shanghai = escalated_visit(app, monkeypatch, clerk="clerk_sh", reviewer="reviewer_sh", identity=OTHER_CUSTOMER)
    add_staff(app, "manager_sh", Role.BRANCH_MANAGER, "0201", "上海经理")

    manager_sh = login_as(app, "manager_sh")
    listing = manager_sh.get(MANAGER_LIST).get_data(as_text=True)
    assert f'id="case-{shanghai}"' in listing and f'id="case-{beijing}"' not in listing
    assert manager_sh.get(case_url(beijing)).status_code == 404
    assert manager_sh.post(send_back_url(beijing), {"reason": "请重新回访"}).status_code == 404
    assert application_row(app, beijing)["stage"] == "inactive"

    admin = login_as(app, "admin")
    listing = admin.get(MANAGER_LIST).get_data(as_text=True)
    assert f'id="case-{shanghai}"' in listing and f'id="case-{beijing}"' in listing
    case = page_of(admin.get(case_url(beijing)))
    assert not [url for url in case.urls if url.endswith("/send-back")] and 'name="reason"' not in case.html
    assert admin.post(send_back_url(beijing), {"reason": "请重新回访"}).status_code == 403
    assert application_row(app, beijing)["stage"] == "inactive"


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_send_back_needs_a_reason_shown_next_to_the_field(app, monkeypatch, htmx):
    reference = escalated_visit(app, monkeypatch)
    manager = login_as(app, "manager")
    changes = case_changes(app, reference)
    response = manager.post(send_back_url(reference), {"reason": "   "}, htmx=htmx)
    assert response.status_code == 422
    assert page_of(response).errors_for("reason") == ["请填写退回重新回访的原因"]
    if htmx:
        assert response.get_data(as_text=True).lstrip().startswith('<div id="send-back">')
    too_long = "已核实" * 170
    response = manager.post(send_back_url(reference), {"reason": too_long}, htmx=htmx)
    assert response.status_code == 422
    assert "不能超过 500 字" in page_of(response).errors_for("reason")[0]
    assert textarea(response.get_data(as_text=True), "reason") == too_long
    assert case_changes(app, reference) == changes
    assert application_row(app, reference)["stage"] == "inactive"
    assert audit_events(app, "application.return_visit_send_back") == []


def test_send_back_requires_the_csrf_token(app, monkeypatch):
    reference = escalated_visit(app, monkeypatch)
    manager = login_as(app, "manager")
    assert manager.client.post(send_back_url(reference), data={"reason": "请重新回访"}).status_code == 400
    assert application_row(app, reference)["stage"] == "inactive"
