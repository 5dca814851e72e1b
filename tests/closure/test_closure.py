"""Closure (销户): pre-check, submission, same-terminal review, the steps and their failures."""

import pytest
from sqlalchemy import func, select

from blueprints.accounts.models import SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.closure import services
from blueprints.closure.models import AccountClosure, ClosureDecision, ClosureStatus
from blueprints.changes.models import CustomerChange
from blueprints.customers.models import Customer, CustomerKind
from core import outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage
from tests.closure.support import closure_row, drain, fund_status, reference_from, review, start_closure
from tests.requests.helpers import page_of


def _customer(app, customer_no):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        db.session.expunge(customer)
        return customer


def _approved(app, clerk, active) -> str:
    customer_no, number = active
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 303, response.get_data(as_text=True)
    reference = reference_from(response)
    assert review(clerk, reference).status_code == 303
    return reference


def _step_states(app, reference):
    with app.app_context():
        closure = db.session.scalar(select(AccountClosure).where(AccountClosure.reference == reference))
        return [(view.number, view.state) for view in services.steps_of(closure)]


def test_steps_run_in_order_and_the_last_account_makes_the_customer_historical(app, clerk, active):
    customer_no, number = active
    reference = _approved(app, clerk, active)
    assert fund_status(app, number) == "closing"
    assert _step_states(app, reference) == [(1, "未发送"), (2, "待处理"), (3, "待处理"), (4, "待处理"), (5, "待处理")]
    for done in range(1, 6):
        with app.app_context():
            assert outbox.run_once().delivered == 1
        states = dict(_step_states(app, reference))
        assert all(states[n] == "处理成功" for n in range(1, done + 1))
        if done < 5:
            assert states[done + 1] == "未发送"
            assert closure_row(app, reference).status == ClosureStatus.CLOSING
    closure = closure_row(app, reference)
    assert closure.status == ClosureStatus.CLOSED and closure.open_fund_account_id is None
    assert fund_status(app, number) == "closed"
    with app.app_context():
        statuses = set(db.session.scalars(select(SecuritiesAccount.status)))
    assert statuses == {"closed"}
    customer = _customer(app, customer_no)
    assert customer.kind == CustomerKind.HISTORICAL and customer.closed_at is not None
    html = clerk.get(f"/closure/{reference}").get_data(as_text=True)
    assert "已销户" in html and "历史客户" in html and "不少于二十年" in html
    assert "无需转出（资金余额为零）" in html and "一码通账户已注销" in html
    assert 'hx-trigger="every 2s"' not in html  # polling stops once done


def test_the_steps_block_polls_while_closing(app, clerk, active):
    reference = _approved(app, clerk, active)
    block = clerk.get(f"/closure/{reference}/steps", htmx=True)
    assert block.status_code == 200
    assert 'hx-trigger="every 2s"' in block.get_data(as_text=True)
    assert "<html" not in block.get_data(as_text=True)
    drain(app)
    assert 'hx-trigger="every 2s"' not in clerk.get(f"/closure/{reference}/steps", htmx=True).get_data(as_text=True)


def test_a_unified_account_another_firm_uses_is_kept(app, clerk, active):
    customer_no, _ = active
    customer = _customer(app, customer_no)
    with app.app_context():
        app.extensions["china_clearing"].add_other_firm_sub_account(customer.unified_account_no, "SH")
    reference = _approved(app, clerk, active)
    drain(app)
    assert closure_row(app, reference).status == ClosureStatus.CLOSED
    assert "保留（他方券商仍在使用）" in clerk.get(f"/closure/{reference}").get_data(as_text=True)


@pytest.mark.parametrize("balance", ["0.01", "1234.56"])
def test_a_balance_left_blocks_submission(app, clerk, active, bank, balance):
    customer_no, number = active
    bank.set_balance(number, balance)
    html = clerk.get(f"/closure/{customer_no}").get_data(as_text=True)
    section = html.split(f'id="start-closure-{number}"', 1)[1].split("</form>", 1)[0]
    assert "disabled" in section
    assert "资金余额" in html and f"¥{float(balance):,.2f}" in html
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 422
    assert "资金余额为零" in page_of(response).errors_for(f"start-{number}")[0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountClosure)) == 0


def test_holdings_block_submission(app, clerk, active, trading):
    customer_no, number = active
    trading.set_position(number, holdings=[{"code": "600000", "name": "浦发银行", "quantity": 100}])
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 422
    assert "尚持有证券：600000 浦发银行 100股" in response.get_data(as_text=True)


def test_an_open_change_blocks_submission(app, clerk, active):
    customer_no, number = active
    customer = _customer(app, customer_no)
    with app.app_context():
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
        db.session.add(CustomerChange(reference="BG0001", client_token="change-1", customer_id=customer.id,
                                      branch_id=customer.branch_id, kind="contact", status="submitted",
                                      base_version=1, before={}, after={}, systems=[], created_by_id=clerk_id))
        db.session.commit()
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 422
    assert "尚有 1 笔资料变更未完成" in response.get_data(as_text=True)


def test_an_undelivered_request_blocks_submission(app, clerk, active):
    customer_no, number = active
    customer = _customer(app, customer_no)
    with app.app_context():
        outbox.enqueue("bank.bind_depository", "pending-1", {"fund_account_no": number}, customer_id=customer.id)
        db.session.commit()
    response = start_closure(clerk, customer_no, number)
    assert response.status_code == 422
    assert "尚有 1 笔外部系统请求未处理完毕" in response.get_data(as_text=True)


def test_the_conditions_are_checked_again_at_approval(app, clerk, active, bank):
    customer_no, number = active
    reference = reference_from(start_closure(clerk, customer_no, number))
    bank.set_balance(number, "0.01")  # interest credited after submission
    response = review(clerk, reference)
    assert response.status_code == 422
    assert "资金余额为零" in response.get_data(as_text=True)
    assert closure_row(app, reference).status == ClosureStatus.SUBMITTED
    assert fund_status(app, number) == "active"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ClosureDecision)) == 0


def test_the_maker_cannot_check_their_own_closure(app, clerk, active):
    customer_no, number = active
    reference = reference_from(start_closure(clerk, customer_no, number))
    # The clerk's own credentials: not a reviewer, and the maker.
    response = review(clerk, reference, username="clerk")
    assert response.status_code == 403
    assert "只有复核岗可以复核销户业务" in page_of(response).errors_for("reviewer_username")[0]
    # A reviewer who entered the business may not check it either (the rule, not the role).
    with app.app_context():
        closure = db.session.scalar(select(AccountClosure).where(AccountClosure.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        closure.created_by_id = reviewer.id
        with pytest.raises(services.ClosureRefused) as refused:
            services.decide_closure(closure, reviewer, reviewer, approve=False, reason="x")
        assert refused.value.status == 403 and "不能复核自己经办的业务" in str(refused.value)
        db.session.rollback()


def test_a_double_submit_records_one_closure(app, clerk, active):
    customer_no, number = active
    from tests.closure.support import start_form

    data = start_form(clerk, customer_no, number)
    first = clerk.post(f"/closure/{customer_no}/start", data)
    second = clerk.post(f"/closure/{customer_no}/start", data)
    assert reference_from(first) == reference_from(second)
    other_token = clerk.post(f"/closure/{customer_no}/start", dict(data, client_token="another-token"))
    assert other_token.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountClosure)) == 1


def test_two_decisions_make_one(app, clerk, active):
    customer_no, number = active
    reference = reference_from(start_closure(clerk, customer_no, number))
    assert review(clerk, reference).status_code == 303
    again = review(clerk, reference, decision="reject", reason="重复")
    assert again.status_code == 409
    assert "已不在待复核状态" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ClosureDecision)) == 1
        closure = db.session.scalar(select(AccountClosure).where(AccountClosure.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        # Even past the status check, the decision of a submission is unique.
        closure.status = ClosureStatus.SUBMITTED
        with pytest.raises(services.ClosureRefused) as refused:
            services.decide_closure(closure, reviewer, reviewer, approve=False, reason="x")
        assert refused.value.status == 409
        db.session.rollback()


def test_a_refused_step_shows_the_failure_and_a_resend_continues(app, clerk, active, bank, manager):
    reference = _approved(app, clerk, active)
    bank.faults.reject_next("资金账户处于司法冻结状态")
    drain(app)
    closure = closure_row(app, reference)
    assert closure.status == ClosureStatus.STEP_REFUSED
    html = clerk.get(f"/closure/{reference}").get_data(as_text=True)
    assert "销户失败" in html and "第1步“资金转出”被拒绝" in html and "司法冻结" in html
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == MessageStatus.REJECTED))
        message_id = message.id
    # The branch manager sees it on the exceptions screen and resends it unchanged.
    assert reference in manager.get(f"/exceptions/{message_id}").get_data(as_text=True)
    response = manager.post(f"/exceptions/{message_id}/resend", {"resend-revision": "0", "resend-reason": "已解除冻结"})
    assert response.status_code == 303
    assert closure_row(app, reference).status == ClosureStatus.CLOSING
    drain(app)
    assert closure_row(app, reference).status == ClosureStatus.CLOSED


def test_a_cancelled_step_fails_the_closure_and_returns_the_account(app, clerk, active, manager):
    customer_no, number = active
    reference = _approved(app, clerk, active)
    with app.app_context():
        outbox.run_once()  # funds out
    app.extensions["depository_bank"].faults.reject_next("存管关系异常")
    drain(app)
    assert closure_row(app, reference).status == ClosureStatus.STEP_REFUSED
    with app.app_context():
        message_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == MessageStatus.REJECTED))
    response = manager.post(f"/exceptions/{message_id}/cancel", {"cancel-revision": "0", "cancel-reason": "客户暂不销户"})
    assert response.status_code == 303
    closure = closure_row(app, reference)
    assert closure.status == ClosureStatus.FAILED and closure.open_fund_account_id is None
    assert "客户暂不销户" in closure.end_reason
    assert fund_status(app, number) == "active"
    with app.app_context():
        assert set(db.session.scalars(select(SecuritiesAccount.status))) == {"active"}
    assert _customer(app, customer_no).kind == CustomerKind.CURRENT
    assert "销户失败（已终止）" in clerk.get(f"/closure/{reference}").get_data(as_text=True)
    # The account is free for a new closure.
    assert start_closure(clerk, customer_no, number).status_code == 303


def test_a_rejected_closure_is_resubmitted_or_withdrawn(app, clerk, active):
    customer_no, number = active
    reference = reference_from(start_closure(clerk, customer_no, number))
    rejected = review(clerk, reference, decision="reject", reason="客户签字不全")
    assert rejected.status_code == 303
    assert closure_row(app, reference).status == ClosureStatus.REJECTED
    assert clerk.post(f"/closure/{reference}/resubmit").status_code == 303
    closure = closure_row(app, reference)
    assert (closure.status, closure.submission_no) == (ClosureStatus.SUBMITTED, 2)
    withdrawn = clerk.post(f"/closure/{reference}/withdraw", {"withdraw-reason": "客户改变主意"})
    assert withdrawn.status_code == 303
    assert closure_row(app, reference).status == ClosureStatus.WITHDRAWN
    assert start_closure(clerk, customer_no, number).status_code == 303


def test_a_resubmission_is_checked_again(app, clerk, active, trading):
    customer_no, number = active
    reference = reference_from(start_closure(clerk, customer_no, number))
    review(clerk, reference, decision="reject", reason="补充材料")
    trading.set_position(number, open_orders=2)
    response = clerk.post(f"/closure/{reference}/resubmit")
    assert response.status_code == 422
    assert "尚有 2 笔未成交委托" in response.get_data(as_text=True)
    assert closure_row(app, reference).status == ClosureStatus.REJECTED


def test_another_agreed_closure_method_is_refused(app, clerk, active):
    customer_no, number = active
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        values = {c.name: getattr(customer.profile, c.name) for c in customer.profile.__table__.columns
                  if c.name not in ("id", "customer_id", "version", "source", "application_id", "created_by_id",
                                    "created_at", "id_number_index", "mobile_index", "name_key", "name_pinyin",
                                    "name_initials")}
        values["closure_method"] = "online"
        from blueprints.customers import services as customer_services

        customer_services.add_profile_version(customer, values, source="change", actor=None)
        db.session.commit()
    html = clerk.get(f"/closure/{customer_no}").get_data(as_text=True)
    assert "凭有效数字证书通过网上业务系统办理" in html
    assert start_closure(clerk, customer_no, number).status_code == 409


def test_a_historical_customer_is_refused_by_the_closure_routes(app, clerk, active):
    customer_no, number = active
    reference = _approved(app, clerk, active)
    drain(app)
    for response in (clerk.get(f"/closure/{customer_no}"),
                     clerk.post(f"/closure/{customer_no}/start", {"fund_account": number}),
                     clerk.post(f"/closure/{customer_no}/reactivate", {"reactivate-fund_account": number}),
                     clerk.post(f"/closure/{reference}/withdraw", {"withdraw-reason": "x"})):
        assert response.status_code == 409
        assert "已销户（历史客户）" in response.get_data(as_text=True)
    # The customer drops out of the customer pages as well.
    assert clerk.get(f"/customers/{customer_no}").status_code == 404


def test_every_closure_read_and_write_is_audited(app, clerk, active):
    from core.models import AuditEvent

    reference = _approved(app, clerk, active)
    clerk.get(f"/closure/{reference}")
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("closure.%"))))
    assert {"closure.precheck", "closure.submit", "closure.decide", "closure.view"} <= actions
