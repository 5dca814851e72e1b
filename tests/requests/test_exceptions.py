"""Exceptions (异常处理): refused requests corrected and resent or cancelled, failing ones retried now."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.accounts.depository_bank import sim_bank_request
from blueprints.accounts.models import DepositoryBinding, FundAccount
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from core import outbox
from core.extensions import db
from core.models import AuditEvent
from core.outbox import OutboxMessage
from core.timeutil import utcnow
from tests import factories
from tests.requests.helpers import add_staff, application_row, login_as, page_of, staff_id

BIND = "bank.bind_depository"
CSDC = "csdc.open_accounts"



def _luhn_card(prefix: str) -> str:
    from stdnum import luhn

    return prefix + luhn.calc_check_digit(prefix)


GOOD_CARD = _luhn_card("621700001000123456")  # 19 digits with a correct check digit


@pytest.fixture(autouse=True)
def _reset_simulators(app):
    yield
    app.extensions["china_clearing"].faults.reset()
    app.extensions["depository_bank"].faults.reset()
    app.extensions["trading"].faults.reset()


@pytest.fixture
def clerk(app):
    return login_as(app, "clerk")


@pytest.fixture
def manager(app):
    return login_as(app, "manager")


def approved(app, clerk, token: str = "exc-1") -> str:
    """Submit a fresh application as the clerk and approve it as the reviewer; return its reference."""
    from blueprints.auth.models import Staff
    from blueprints.review import services as review

    reference = factories.start(clerk, token=token)
    factories.walk_with(clerk, reference, "summary", staff_id(app, "clerk"))
    assert clerk.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(application, reviewer, reviewer)
        db.session.commit()
    return reference


def deliver(app, now=None):
    with app.app_context():
        return outbox.run_once(now=now)


def message_of(app, reference: str, topic: str) -> dict:
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).join(Application, OutboxMessage.application_id == Application.id)
                                    .where(Application.reference == reference, OutboxMessage.topic == topic))
        return {"id": message.id, "status": str(message.status), "revision": message.revision,
                "key": message.idempotency_key, "payload": message.payload, "attempts": message.attempts,
                "next_attempt_at": message.next_attempt_at,
                "events": [(e.kind, e.actor_id, e.note, e.changes) for e in message.events]}


def binding_of(app, reference: str) -> DepositoryBinding:
    with app.app_context():
        binding = db.session.scalar(select(DepositoryBinding).join(FundAccount).join(
            Application, FundAccount.application_id == Application.id).where(Application.reference == reference))
        db.session.expunge(binding)
        return binding


def refused_binding(app, clerk, reason: str = "银行卡号与户名不符") -> tuple[str, int]:
    reference = approved(app, clerk)
    app.extensions["depository_bank"].faults.reject_next(reason)
    summary = deliver(app)
    assert (summary.delivered, summary.rejected) == (1, 1)
    return reference, message_of(app, reference, BIND)["id"]


def audit_actions(app, reference: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == reference)
                                       .order_by(AuditEvent.id)))


def resend_data(revision: int = 0, **fields) -> dict:
    data = {"resend-revision": str(revision), "resend-bank_code": "ICBC", "resend-bank_card": GOOD_CARD,
            "resend-reason": "客户提供正确卡号，已核对银行卡原件"}
    data.update({f"resend-{k}": v for k, v in fields.items()})
    return {k: v for k, v in data.items() if v is not None}


def test_a_refused_binding_corrected_and_resent_completes_the_opening(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)

    listing = manager.get("/exceptions/")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert f'data-message="{message_id}"' in html and "银行卡号与户名不符" in html and "刘*" in html
    detail = manager.get(f"/exceptions/{message_id}").get_data(as_text=True)
    assert "存管银行拒绝：银行卡号与户名不符（模拟）" in detail
    assert "badge-sim" in detail  # the answer came from the simulator, and the page says so
    assert factories.BANK_CARD not in detail and factories.BANK_CARD[:6] in detail  # the card is masked
    assert factories.CUSTOMER_ID not in detail
    assert "第 1 次" in detail

    response = manager.post(f"/exceptions/{message_id}/resend", resend_data())

    assert response.status_code == 303
    message = message_of(app, reference, BIND)
    assert (message["status"], message["revision"]) == ("pending", 1)
    assert message["key"] == f"{BIND}:{reference}/r1"  # a new request for the bank, never the refused key
    assert message["payload"]["bank_card"] == GOOD_CARD
    binding = binding_of(app, reference)
    assert (binding.status, binding.bank_card) == ("pending", GOOD_CARD)
    page = manager.get(f"/exceptions/{message_id}").get_data(as_text=True)
    assert "更正后重新发送" in page and "银行卡号：622202*********" in page and GOOD_CARD not in page

    assert deliver(app).delivered == 1

    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    binding = binding_of(app, reference)
    assert (binding.status, binding.bank_card) == ("bound", GOOD_CARD)
    kinds = [kind for kind, *_ in message_of(app, reference, BIND)["events"]]
    assert kinds == ["rejected", "resent", "delivered"]
    resent = message_of(app, reference, BIND)["events"][1]
    assert resent[1] == staff_id(app, "manager") and resent[2] == "客户提供正确卡号，已核对银行卡原件"
    assert resent[3] == {"bank_card": [factories.BANK_CARD, GOOD_CARD]}
    with app.app_context():
        keys = list(db.session.scalars(select(sim_bank_request.c.idempotency_key)))
    assert keys == [f"{BIND}:{reference}/r1"]
    assert "outbox.resend" in audit_actions(app, reference)
    assert "exceptions.view" in audit_actions(app, reference)


@pytest.mark.parametrize("card, message", [
    ("6222 0202 0011 2233 440", "银行卡号校验位错误，请核对卡号"),
    ("62220202", "银行卡号应为16至19位数字"),
])
def test_a_wrong_card_number_is_refused_next_to_the_field_and_kept(app, clerk, manager, card, message):
    reference, message_id = refused_binding(app, clerk)

    response = manager.post(f"/exceptions/{message_id}/resend", resend_data(bank_card=card), htmx=True)

    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("resend-bank_card") == [message]
    assert page.value("resend-bank_card") == card
    assert page.html.count("客户提供正确卡号") == 1  # the reason typed stays too
    assert message_of(app, reference, BIND)["status"] == "rejected"
    assert message_of(app, reference, BIND)["revision"] == 0


def test_a_resend_needs_a_reason(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)

    response = manager.post(f"/exceptions/{message_id}/resend", resend_data(reason=""))

    assert response.status_code == 422
    assert page_of(response).errors_for("resend-reason") == ["请填写处理说明，例如已与客户核对的情况"]
    assert message_of(app, reference, BIND)["status"] == "rejected"


def test_a_second_click_on_resend_sends_once(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)

    first = manager.post(f"/exceptions/{message_id}/resend", resend_data())
    second = manager.post(f"/exceptions/{message_id}/resend", resend_data())

    assert (first.status_code, second.status_code) == (303, 303)
    message = message_of(app, reference, BIND)
    assert message["revision"] == 1
    assert [kind for kind, *_ in message["events"]].count("resent") == 1
    notice = manager.get(f"/exceptions/{message_id}").get_data(as_text=True)
    assert "已由吴经理于" in notice and "本次未重复操作" in notice


def test_cancelling_a_refused_binding_with_a_reason_lets_the_opening_go_on(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)

    missing = manager.post(f"/exceptions/{message_id}/cancel", {"cancel-revision": "0", "cancel-reason": " "})
    assert missing.status_code == 422
    assert page_of(missing).errors_for("cancel-reason") == ["撤销须填写原因"]

    response = manager.post(f"/exceptions/{message_id}/cancel",
                            {"cancel-revision": "0", "cancel-reason": "客户暂不办理存管，改日到银行办理"})

    assert response.status_code == 303
    message = message_of(app, reference, BIND)
    assert message["status"] == "cancelled"
    assert message["events"][-1][:3] == ("cancelled", staff_id(app, "manager"), "客户暂不办理存管，改日到银行办理")
    binding = binding_of(app, reference)
    assert binding.status == "failed" and "客户暂不办理存管" in binding.message
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    detail = clerk.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert "存管银行请求已撤销" in detail and "吴经理" in detail and "客户暂不办理存管" in detail
    assert "outbox.cancel" in audit_actions(app, reference)
    assert deliver(app, now=utcnow() + timedelta(hours=1)).delivered == 0  # nothing more goes to the bank
    twice = manager.post(f"/exceptions/{message_id}/cancel", {"cancel-revision": "0", "cancel-reason": "再点一次"})
    assert twice.status_code == 303
    assert [kind for kind, *_ in message_of(app, reference, BIND)["events"]].count("cancelled") == 1


def test_a_page_left_open_over_a_second_refusal_does_not_resend_blindly(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)
    manager.post(f"/exceptions/{message_id}/resend", resend_data())
    app.extensions["depository_bank"].faults.reject_next("银行卡状态异常")
    deliver(app)  # refused again, now at revision 1

    stale = manager.post(f"/exceptions/{message_id}/resend", resend_data(revision=0))

    assert stale.status_code == 303
    assert message_of(app, reference, BIND)["revision"] == 1
    page = manager.get(f"/exceptions/{message_id}").get_data(as_text=True)
    assert "并再次被拒绝" in page and "银行卡状态异常" in page


def test_cancelling_a_china_clearing_refusal_fails_the_opening_and_its_refused_binding(app, clerk, manager):
    reference = approved(app, clerk)
    app.extensions["china_clearing"].faults.reject_next("一码通开户资料不完整")
    app.extensions["depository_bank"].faults.reject_next("银行卡已挂失")
    assert deliver(app).rejected == 2
    csdc = message_of(app, reference, CSDC)

    response = manager.post(f"/exceptions/{csdc['id']}/cancel",
                            {"cancel-revision": "0", "cancel-reason": "客户放弃开户"})

    assert response.status_code == 303
    assert message_of(app, reference, CSDC)["status"] == "cancelled"
    bank = message_of(app, reference, BIND)
    assert bank["status"] == "cancelled" and "随中国结算开户请求一并撤销" in bank["events"][-1][2]
    # The application stays approved, as it was decided; its opening has failed.
    assert (application_row(app, reference)["status"], application_row(app, reference)["stage"]) == \
        ("approved", "opening_failed")
    with app.app_context():
        fund = db.session.scalar(select(FundAccount))
        assert fund.status == "failed"
        assert db.session.get(Customer, fund.customer_id).kind == "potential"
    assert binding_of(app, reference).status == "failed"
    detail = clerk.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert "开户失败（中国结算拒绝，请求已撤销）" in detail and "开立失败" in detail and "中国结算请求已撤销" in detail
    # The customer may apply again: the failed opening no longer blocks a new one.
    again = factories.start(clerk, token="exc-again")
    factories.walk_with(clerk, again, "summary", staff_id(app, "clerk"))
    assert clerk.post(factories.step_url(again, "summary")).status_code == 303


def test_china_clearing_contact_details_corrected_and_resent(app, clerk, manager):
    reference = approved(app, clerk)
    app.extensions["china_clearing"].faults.reject_next("联系地址不完整")
    deliver(app)
    csdc = message_of(app, reference, CSDC)
    detail = manager.get(f"/exceptions/{csdc['id']}").get_data(as_text=True)
    assert "联系地址" in detail and "北京市朝阳区****" in detail and "建国路88号" not in detail
    assert "138****8000" in detail

    bad = manager.post(f"/exceptions/{csdc['id']}/resend", {
        "resend-revision": "0", "resend-mobile": "1381234", "resend-postcode": "10002",
        "resend-address": "北京市朝阳区建国路88号院3号楼1201室", "resend-reason": "客户补充门牌号"})
    assert bad.status_code == 422
    page = page_of(bad)
    assert page.errors_for("resend-mobile") == ["手机号码应为11位，当前为7位"]
    assert page.errors_for("resend-postcode") == ["邮政编码应为6位数字，当前填写“10002”"]
    assert page.value("resend-address") == "北京市朝阳区建国路88号院3号楼1201室"

    response = manager.post(f"/exceptions/{csdc['id']}/resend", {
        "resend-revision": "0", "resend-mobile": "", "resend-postcode": "",
        "resend-address": "北京市朝阳区建国路88号院3号楼1201室", "resend-reason": "客户补充门牌号"})

    assert response.status_code == 303
    message = message_of(app, reference, CSDC)
    assert message["payload"]["address"] == "北京市朝阳区建国路88号院3号楼1201室"
    assert message["payload"]["mobile"] == "13812348000"  # left empty: unchanged
    assert message["events"][-1][3] == {"address": ["北京市朝阳区建国路88号院3号楼1201", "北京市朝阳区建国路88号院3号楼1201室"]}
    assert deliver(app).delivered == 1
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"


def test_key_information_cannot_be_corrected_on_the_exceptions_screen(app, clerk, manager):
    reference = approved(app, clerk)
    app.extensions["china_clearing"].faults.reject_next("证件号码与姓名不符")
    deliver(app)
    csdc = message_of(app, reference, CSDC)

    manager.post(f"/exceptions/{csdc['id']}/resend", {
        "resend-revision": "0", "resend-name": "李四", "resend-id_number": factories.AGENT_ID,
        "resend-reason": "试图修改关键信息"})

    payload = message_of(app, reference, CSDC)["payload"]
    assert (payload["name"], payload["id_number"]) == ("刘晓明", factories.CUSTOMER_ID)


def test_a_failing_message_shows_its_attempts_and_can_be_retried_now(app, clerk, manager):
    reference = approved(app, clerk)
    app.extensions["china_clearing"].faults.fail_next(3)
    now = utcnow()
    for _ in range(3):
        deliver(app, now=now)
        now = message_of(app, reference, CSDC)["next_attempt_at"] + timedelta(seconds=1)
    csdc = message_of(app, reference, CSDC)
    assert (csdc["status"], csdc["attempts"]) == ("pending", 3)

    listing = manager.get("/exceptions/?state=failing").get_data(as_text=True)
    assert f'data-message="{csdc["id"]}"' in listing
    detail = page_of(manager.get(f"/exceptions/{csdc['id']}"))
    assert "持续失败" in detail.html and "3 次" in detail.html
    assert "中国结算服务暂不可用（模拟）" in detail.html
    assert 'id="next-attempt"' in detail.html and "系统自动重试" in detail.html
    assert "立即重试" in detail.html

    response = manager.post(f"/exceptions/{csdc['id']}/retry", {})
    again = manager.post(f"/exceptions/{csdc['id']}/retry", {})

    assert (response.status_code, again.status_code) == (303, 303)
    message = message_of(app, reference, CSDC)
    assert message["next_attempt_at"] <= utcnow()
    assert message["key"] == f"{CSDC}:{reference}"  # the same request: the key stays
    assert [kind for kind, *_ in message["events"]].count("retry_now") == 1
    assert "已在发送队列中" in manager.get(f"/exceptions/{csdc['id']}").get_data(as_text=True)
    assert deliver(app).delivered == 1  # due now, not after its backoff
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    assert "outbox.retry_now" in audit_actions(app, reference)


def test_counts_per_state_on_the_list(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)

    page = page_of(manager.get("/exceptions/"))
    assert '<a class="button primary" id="state-rejected"' in page.html
    assert "需人工处理（<span class=\"count\">1</span>）" in page.html
    assert "持续失败（<span class=\"count\">0</span>）" in page.html
    only_csdc = manager.get("/exceptions/?system=csdc.open_accounts").get_data(as_text=True)
    assert f'data-message="{message_id}"' not in only_csdc and "暂无" in only_csdc


@pytest.mark.parametrize("username", ["clerk", "reviewer", "visitor", "archivist"])
def test_only_managers_and_hq_use_the_exceptions_screen(app, clerk, username, manager):
    reference, message_id = refused_binding(app, clerk)
    other = clerk if username == "clerk" else login_as(app, username)

    assert other.get("/exceptions/").status_code == 403
    assert other.get(f"/exceptions/{message_id}").status_code == 403
    assert other.post(f"/exceptions/{message_id}/resend", resend_data()).status_code == 403
    assert other.post(f"/exceptions/{message_id}/cancel", {"cancel-reason": "x"}).status_code == 403
    assert message_of(app, reference, BIND)["status"] == "rejected"


def test_the_clerk_sees_the_refusal_on_the_application_but_no_action(app, clerk):
    reference, message_id = refused_binding(app, clerk)

    detail = clerk.get(f"/opening/{reference}/detail").get_data(as_text=True)

    assert "存管银行拒绝了开户请求" in detail and "请联系营业部负责人处理" in detail
    assert f"/exceptions/{message_id}" not in detail


def test_a_manager_of_another_branch_gets_404_and_hq_may_act(app, clerk):
    reference, message_id = refused_binding(app, clerk)
    add_staff(app, "manager_sh", "branch_manager", branch_code="0201", full_name="钱经理")
    other = login_as(app, "manager_sh")

    assert other.get(f"/exceptions/{message_id}").status_code == 404
    assert other.post(f"/exceptions/{message_id}/resend", resend_data()).status_code == 404
    assert other.post(f"/exceptions/{message_id}/cancel", {"cancel-reason": "x"}).status_code == 404
    assert f'data-message="{message_id}"' not in other.get("/exceptions/").get_data(as_text=True)
    assert message_of(app, reference, BIND)["status"] == "rejected"

    admin = login_as(app, "admin")
    assert f'data-message="{message_id}"' in admin.get("/exceptions/").get_data(as_text=True)
    assert admin.post(f"/exceptions/{message_id}/resend", resend_data()).status_code == 303
    assert message_of(app, reference, BIND)["status"] == "pending"


def test_the_manager_page_polls_while_the_request_is_on_its_way(app, clerk, manager):
    reference, message_id = refused_binding(app, clerk)
    manager.post(f"/exceptions/{message_id}/resend", resend_data())

    polling = manager.get(f"/exceptions/{message_id}/status", htmx=True)
    assert polling.status_code == 200 and 'hx-trigger="every 3s"' in polling.get_data(as_text=True)
    assert "HX-Refresh" not in polling.headers
    assert factories.BANK_CARD[:6] not in polling.get_data(as_text=True)  # the fragment carries no customer data

    deliver(app)
    answered = manager.get(f"/exceptions/{message_id}/status", htmx=True)
    assert answered.headers.get("HX-Refresh") == "true" and "已送达" in answered.get_data(as_text=True)
