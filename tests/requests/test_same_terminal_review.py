"""Same-terminal review (同机复核): a reviewer decides on the clerk's screen with their own credentials."""
import pytest
from sqlalchemy import func, select, update

from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.auth.rules import ACCOUNT
from blueprints.home.demo import DEMO_PASSWORD
from blueprints.opening.models import Application, ApplicationStep
from core.extensions import db
from core.models import AuditEvent
from core.roles import Role
from tests import factories
from tests.requests.helpers import add_staff, application_row, login_as, page_of, staff_id
from tests.requests.test_review import (  # noqa: F401  (file_store is a fixture)
    ONSITE_RETURN_STEPS,
    SECOND_ID,
    count_for,
    decisions_of,
    file_store,
    options_of,
    submit,
    submit_witness,
)


def credentials(username="reviewer", password=DEMO_PASSWORD, decision="approve", **extra):
    return {"reviewer_username": username, "reviewer_password": password, "decision": decision, **extra}


def url(reference):
    return f"/review/{reference}/same-terminal"


def staff_row(app, username):
    with app.app_context():
        staff = db.session.scalar(select(Staff).where(Staff.username == username))
        return {"failed_logins": staff.failed_logins}


# --- the dialog on the clerk's screen ------------------------------------------------------------

def test_submitted_page_offers_the_same_terminal_dialog(app):
    clerk, reference = submit(app)
    response = clerk.get(f"/opening/{reference}/submitted")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<div id="same-terminal"' in body and "同机复核" in body
    assert url(reference) in page_of(response).urls
    assert "<script>" not in body  # the CSP forbids inline scripts

    panel = clerk.get(url(reference), htmx=True)
    assert panel.status_code == 200
    html = panel.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="same-terminal-panel"') and "<html" not in html
    names = {i.get("name") for i in page_of(panel).inputs}
    assert {"reviewer_username", "reviewer_password", "decision", "csrf_token"} <= names
    # Without htmx the same URL is a whole page.
    assert "<html" in clerk.get(url(reference)).get_data(as_text=True)


def test_the_panel_shows_what_the_reviewer_checks_beside_the_form(app, file_store):
    witness, reference = submit_witness(app)
    panel = witness.get(url(reference), htmx=True)
    body = panel.get_data(as_text=True)
    summary = body.split('id="same-terminal-summary"')[1].split('class="same-terminal-form"')[0]
    assert "刘晓明" in summary and factories.CUSTOMER_ID in summary  # the operator's role sees the full number
    assert "badge-sim" in summary.split('id="compact-verification"')[1].split("</dd>")[0]
    assert "讲解 赵见证" in summary and "C5" in summary and "有效期至" in summary
    assert "变更：本人持有效身份证件到营业部柜台办理" in summary and "销户：" in summary
    assert "通过" in summary.split('id="compact-consistency"')[1].split("</dd>")[0]
    # The witness record, compact, with both images.
    assert f'data-witness-record="{reference}"' in summary and "赵见证（开户见证人员）" in summary
    assert f'<img src="/review/{reference}/witness/photo"' in summary
    assert f'<img src="/review/{reference}/witness/signature"' in summary
    assert 'id="same-terminal-form"' in body
    with app.app_context():
        views = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "application.view",
                                                                 AuditEvent.object_id == reference)))
    assert [(e.actor_id, e.detail) for e in views] == [(staff_id(app, "witness"), {"step": "same_terminal"})]


@pytest.mark.parametrize("username", ["reviewer", "marketing", "visitor", "archivist", "manager", "admin"])
def test_only_the_opening_roles_use_the_same_terminal_screen(app, username):
    _clerk, reference = submit(app)
    other = login_as(app, username)
    assert other.get(url(reference)).status_code == 403
    assert other.post(url(reference), credentials()).status_code == 403
    assert decisions_of(app, reference) == []


def test_clerk_of_another_branch_cannot_use_the_dialog(app):
    _clerk, reference = submit(app)
    shanghai = login_as(app, "clerk_sh")
    assert shanghai.get(url(reference)).status_code == 404
    assert shanghai.post(url(reference), credentials()).status_code == 404
    assert decisions_of(app, reference) == []


# --- credentials ---------------------------------------------------------------------------------

def test_wrong_password_is_refused_next_to_the_field_and_counted(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(password="wrong-password"))
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("reviewer_password") == ["用户名或密码错误"]
    assert page.value("reviewer_username") == "reviewer"
    assert not page.value("reviewer_password")
    assert "wrong-password" not in response.get_data(as_text=True)
    assert staff_row(app, "reviewer")["failed_logins"] == 1
    assert decisions_of(app, reference) == []
    assert application_row(app, reference)["status"] == "submitted"


def test_wrong_password_from_htmx_swaps_the_panel_in_place(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(password="nope"), htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="same-terminal-panel"') and "<html" not in body
    assert page_of(response).errors_for("reviewer_password")


def test_wrong_passwords_make_the_reviewer_wait_without_ending_their_session(app):
    """The same-terminal form locked a reviewer out and ended their session after five wrong passwords
    typed by anyone logged in; now it throttles like the login page and never ends a session."""
    reviewer = login_as(app, "reviewer")
    clerk, reference = submit(app)
    for attempt in range(1, ACCOUNT.free):
        assert clerk.post(url(reference), credentials(password=f"wrong-{attempt}")).status_code == 422
        assert staff_row(app, "reviewer")["failed_logins"] == attempt
    response = clerk.post(url(reference), credentials(password="wrong-last"))
    assert response.status_code == 422
    assert "请在 2 秒后重试" in page_of(response).errors_for("reviewer_password")[0]

    # Waiting: even the right password does not approve now, and says when to try again.
    response = clerk.post(url(reference), credentials(), htmx=True)
    assert response.status_code == 429
    assert response.get_data(as_text=True).lstrip().startswith('<div id="same-terminal-panel"')
    assert "尝试次数过多" in page_of(response).errors_for("reviewer_password")[0]
    assert decisions_of(app, reference) == []
    # The reviewer's own session goes on.
    assert reviewer.get("/review/").status_code == 200


@pytest.mark.parametrize("field, data, message", [
    ("reviewer_username", credentials(username=""), "请输入复核人用户名"),
    ("reviewer_password", credentials(password=""), "请输入复核人密码"),
    ("decision", credentials(decision=""), "请选择复核结论"),
    ("reason", credentials(decision="reject", return_step="contact"), "退回须填写原因"),
    ("return_step", credentials(decision="reject", reason="证件照片模糊"), "请选择需要修改的步骤"),
])
def test_incomplete_form_is_refused_without_checking_the_password(app, field, data, message):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), data)
    assert response.status_code == 422
    assert page_of(response).errors_for(field) == [message]
    assert staff_row(app, "reviewer")["failed_logins"] == 0
    assert decisions_of(app, reference) == []


# --- claims (认领) --------------------------------------------------------------------------------

def test_the_reviewer_holding_the_claim_approves_on_the_clerks_screen(app):
    from tests.requests.test_review import claims_of

    clerk, reference = submit(app)
    assert login_as(app, "reviewer").post(f"/review/{reference}/claim").status_code == 303
    response = clerk.post(url(reference), credentials())
    assert response.status_code == 303
    assert [d.decision for d in decisions_of(app, reference)] == ["approve"]
    assert claims_of(app, reference) == []


def test_a_reviewer_is_refused_on_the_clerks_screen_while_another_holds_the_claim(app):
    from tests.requests.test_review import claims_of

    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    clerk, reference = submit(app)
    assert login_as(app, "reviewer2").post(f"/review/{reference}/claim").status_code == 303
    response = clerk.post(url(reference), credentials(decision="reject", reason="地址不符", return_step="contact"),
                          htmx=True)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#same-terminal-panel"
    page = page_of(response)
    assert "已由陈复核" in page.html and "认领复核" in page.html
    assert page.value("reviewer_username") == "reviewer" and "地址不符" in page.html  # nothing typed is lost
    assert decisions_of(app, reference) == [] and staff_row(app, "reviewer")["failed_logins"] == 0
    assert [c[0] for c in claims_of(app, reference)] == ["reviewer2"]
    # The holder's own credentials are not blocked by the holder's claim.
    assert clerk.post(url(reference), credentials(username="reviewer2")).status_code == 303


# --- return steps by channel --------------------------------------------------------------------

def test_the_return_steps_offered_are_the_channels_own(app, file_store):
    clerk, onsite = submit(app)
    assert options_of(clerk.get(url(onsite)).get_data(as_text=True), "return_step")[1:] == ONSITE_RETURN_STEPS
    witness, remote = submit_witness(app, identity=factories.identity(id_number=SECOND_ID, name="赵小红"))
    assert options_of(witness.get(url(remote)).get_data(as_text=True), "return_step")[1:] == \
        ONSITE_RETURN_STEPS + [("witness", "10. 见证与签名")]


def test_an_onsite_application_cannot_be_returned_to_the_witness_step_on_the_clerks_screen(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(decision="reject", reason="请补拍合影", return_step="witness"))
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("return_step") == ["请选择需要修改的步骤"]
    assert page.value("reviewer_username") == "reviewer" and "请补拍合影" in response.get_data(as_text=True)
    assert staff_row(app, "reviewer")["failed_logins"] == 0
    assert decisions_of(app, reference) == []


def test_a_witness_application_is_returned_to_the_witness_step_on_the_tablet(app, file_store):
    witness, reference = submit_witness(app)
    assert "退回见证人员修改" in witness.get(url(reference)).get_data(as_text=True)
    response = witness.post(url(reference), credentials(decision="reject", reason="签名与证件不符，请客户重签",
                                                       return_step="witness"))
    assert response.status_code == 303
    [decision] = decisions_of(app, reference)
    assert (decision.return_step, decision.operator_id) == ("witness", staff_id(app, "witness"))
    result = witness.get(url(reference)).get_data(as_text=True)
    assert "10. 见证与签名" in result and factories.step_url(reference, "witness") in result


# --- who may be the reviewer ---------------------------------------------------------------------

def test_clerks_own_credentials_are_refused(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(username="clerk"))
    assert response.status_code == 403
    page = page_of(response)
    assert page.errors_for("reviewer_username") == ["只有复核岗可以复核开户申请"]
    assert decisions_of(app, reference) == []
    assert application_row(app, reference)["status"] == "submitted"


def test_reviewer_who_edited_the_application_is_refused(app):
    editor_id = add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    clerk, reference = submit(app)
    with app.app_context():
        application_id = db.session.scalar(select(Application.id).where(Application.reference == reference))
        db.session.execute(update(ApplicationStep).where(ApplicationStep.application_id == application_id,
                                                         ApplicationStep.step == "identity")
                           .values(saved_by_id=editor_id))
        db.session.commit()
    response = clerk.post(url(reference), credentials(username="reviewer2"), htmx=True)
    assert response.status_code == 403
    # htmx keeps the answer in the dialog instead of the flash area.
    assert response.headers["HX-Retarget"] == "#same-terminal-panel"
    assert "不能复核自己经办的业务" in page_of(response).errors_for("reviewer_username")[0]
    assert decisions_of(app, reference) == []


def test_reviewer_of_another_branch_is_refused(app):
    add_staff(app, "reviewer_sh", Role.REVIEWER, "0201", "上海复核")
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(username="reviewer_sh"))
    assert response.status_code == 403
    assert page_of(response).errors_for("reviewer_username") == ["只能复核本营业部的开户申请"]
    assert decisions_of(app, reference) == []


# --- the decision --------------------------------------------------------------------------------

def test_reviewer_approves_on_the_clerks_screen_and_the_session_stays_the_clerks(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials())
    assert response.status_code == 303
    assert response.headers["Location"] == f"/opening/{reference}/submitted"

    [decision] = decisions_of(app, reference)
    assert (decision.decision, decision.reviewer_id, decision.operator_id, decision.same_terminal) == \
        ("approve", staff_id(app, "reviewer"), staff_id(app, "clerk"), True)
    assert application_row(app, reference)["stage"] == "accounts_opening"
    assert count_for(app, FundAccount, reference) == 1

    # Still the clerk: the header names the clerk, and the reviewer's queue stays closed.
    home = clerk.get("/").get_data(as_text=True)
    assert "王柜员（柜台业务岗）" in home and "李复核（复核岗）" not in home
    assert clerk.get("/review/").status_code == 403
    # The clerk's page now shows the decision.
    result = clerk.get(url(reference)).get_data(as_text=True)
    assert "复核通过" in result and "李复核" in result and "账户开立中" in result

    with app.app_context():
        approval = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "application.approve",
                                                              AuditEvent.object_id == reference))
        details = [str(e.detail) for e in db.session.scalars(select(AuditEvent))]
    assert approval.actor_id == staff_id(app, "reviewer")
    assert approval.detail == {"operator": "clerk", "same_terminal": True}
    assert not [d for d in details if DEMO_PASSWORD in d]


def test_approval_from_htmx_reloads_the_clerks_page(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(), htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/opening/{reference}/submitted"
    body = clerk.get(f"/opening/{reference}/submitted").get_data(as_text=True)
    assert "同机复核完成" in body and "账户开立中" in body
    assert '<div id="same-terminal"' not in body


def test_reviewer_rejects_on_the_clerks_screen(app):
    clerk, reference = submit(app)
    response = clerk.post(url(reference), credentials(decision="reject", reason="证件照片模糊，请重新采集",
                                                     return_step="identity"))
    assert response.status_code == 303
    assert application_row(app, reference)["status"] == "rejected"
    [decision] = decisions_of(app, reference)
    assert (decision.decision, decision.reason, decision.return_step, decision.same_terminal,
            decision.reviewer_id, decision.operator_id) == \
        ("reject", "证件照片模糊，请重新采集", "identity", True, staff_id(app, "reviewer"), staff_id(app, "clerk"))
    assert count_for(app, FundAccount, reference) == 0

    # The clerk sees the reason and can correct the step, then resubmit.
    result = clerk.get(url(reference)).get_data(as_text=True)
    assert "证件照片模糊" in result and factories.step_url(reference, "identity") in result
    assert clerk.post(factories.step_url(reference, "identity"),
                      factories.identity(authority="北京市公安局朝阳分局建外派出所")).status_code == 303
    assert clerk.post(factories.step_url(reference, "summary")).status_code == 303
    assert application_row(app, reference)["status"] == "resubmitted"
    assert reference in login_as(app, "reviewer").get("/review/").get_data(as_text=True)


def test_second_same_terminal_decision_is_a_conflict(app):
    clerk, reference = submit(app)
    assert login_as(app, "reviewer").post(f"/review/{reference}/approve").status_code == 303
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    response = clerk.post(url(reference), credentials(username="reviewer2"))
    assert response.status_code == 409
    assert "无需重复复核" in response.get_data(as_text=True)
    assert len(decisions_of(app, reference)) == 1


def test_password_never_appears_in_a_url_or_the_page(app):
    clerk, reference = submit(app)
    wrong = clerk.post(url(reference), credentials(password="S3cret-typo"))
    right = clerk.post(url(reference), credentials())
    for response in (wrong, right):
        body = response.get_data(as_text=True)
        assert "S3cret-typo" not in body and DEMO_PASSWORD not in body
        assert not [u for u in page_of(response).urls + [response.headers.get("Location") or ""]
                    if "S3cret" in u or DEMO_PASSWORD in u]
    with app.app_context():
        details = [str(e.detail) + str(e.actor_name) for e in db.session.scalars(select(AuditEvent))]
    assert not [d for d in details if "S3cret-typo" in d or DEMO_PASSWORD in d]


# --- the clerk's page follows the accounts being opened ------------------------------------------

def progress_url(reference):
    return f"/review/{reference}/accounts"


def deliver(app):
    from core import outbox

    with app.app_context():
        return outbox.run_once()


def accounts_views(app, reference):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "application.view", AuditEvent.object_id == reference,
            AuditEvent.detail["step"].as_string() == "accounts"))


def test_after_approval_the_submitted_page_loads_the_accounts_block(app):
    clerk, reference = submit(app)
    in_review = clerk.get(f"/opening/{reference}/submitted").get_data(as_text=True)
    assert progress_url(reference) not in in_review
    assert clerk.post(url(reference), credentials()).status_code == 303
    page = page_of(clerk.get(f"/opening/{reference}/submitted"))
    assert progress_url(reference) in page.urls
    assert 'id="accounts-progress"' in page.html and 'hx-trigger="load"' in page.html


def test_the_accounts_block_polls_until_every_account_is_open(app):
    clerk, reference = submit(app)
    assert clerk.post(url(reference), credentials()).status_code == 303
    waiting = clerk.get(progress_url(reference), htmx=True)
    assert waiting.status_code == 200
    body = waiting.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="accounts-progress"') and "<html" not in body
    assert 'hx-trigger="every 3s"' in body and 'data-polling="yes"' in body
    assert 'id="application-status" hx-swap-oob="true"' in body  # the page's status badge follows
    with app.app_context():
        fund_account = db.session.scalar(select(FundAccount.number))
    assert fund_account in body and "上海、深圳A股账户开立中" in body and "等待中国结算" in body
    assert accounts_views(app, reference) == 1

    # Nothing changed: an empty answer, nothing swapped, nothing read, the poll goes on.
    seen = page_of(waiting).urls[0]
    assert "seen=" in seen and fund_account not in seen
    unchanged = clerk.get(seen, htmx=True)
    assert unchanged.status_code == 204 and unchanged.data == b""
    assert accounts_views(app, reference) == 1

    assert deliver(app).delivered == 2
    done = clerk.get(seen, htmx=True)
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "hx-trigger" not in body and 'data-polling="no"' in body and "已全部开立" in body
    with app.app_context():
        subs = list(db.session.scalars(select(SecuritiesAccount.number).order_by(SecuritiesAccount.market)))
    assert len(subs) == 2 and all(number in body for number in subs)
    assert "上海A股账户" in body and "深圳A股账户" in body and "已绑定" in body
    assert "等待中国结算" not in body and accounts_views(app, reference) == 2


def test_the_accounts_block_stops_polling_when_a_request_needs_a_person(app):
    clerk, reference = submit(app)
    assert clerk.post(url(reference), credentials()).status_code == 303
    app.extensions["depository_bank"].faults.reject_next("银行卡户名与证件姓名不符")
    try:
        deliver(app)
    finally:
        app.extensions["depository_bank"].faults.reset()
    body = clerk.get(progress_url(reference), htmx=True).get_data(as_text=True)
    assert "需人工处理" in body and "银行卡户名与证件姓名不符" in body
    assert "hx-trigger" not in body and 'data-polling="no"' in body


def test_the_detail_page_polls_the_same_block(app):
    clerk, reference = submit(app)
    assert clerk.post(url(reference), credentials()).status_code == 303
    body = clerk.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert 'hx-trigger="every 3s"' in body and progress_url(reference) in body


def test_the_accounts_block_before_approval_is_empty_and_does_not_poll(app):
    clerk, reference = submit(app)
    body = clerk.get(progress_url(reference), htmx=True).get_data(as_text=True)
    assert 'data-polling="no"' in body and "hx-trigger" not in body and "资金账户" not in body


@pytest.mark.parametrize("username, status", [("clerk_sh", 404), ("marketing", 403), ("visitor", 403),
                                              ("reviewer", 403), ("manager", 200), ("admin", 200)])
def test_the_accounts_block_is_for_the_branch_and_the_roles_that_see_applications(app, username, status):
    clerk, reference = submit(app)
    assert clerk.post(url(reference), credentials()).status_code == 303
    assert login_as(app, username).get(progress_url(reference), htmx=True).status_code == status

