"""Approval opens the accounts through the outbox; retries never open twice."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.accounts.china_clearing import sim_sub_account, sim_unified_account
from blueprints.accounts.models import DepositoryBinding, FundAccount, SecuritiesAccount
from blueprints.customers.models import Customer
from blueprints.auth.models import Staff
from blueprints.opening.models import StatusChange
from blueprints.return_visit.models import ReturnVisitCase
from core import outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage
from core.timeutil import utcnow
from tests import factories


def count(app, what, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(what).where(*where))


def deliver(app, now=None):
    with app.app_context():
        return outbox.run_once(now=now)


def messages(app, application_id):
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.application_id == application_id)
                                       .order_by(OutboxMessage.id)))
        return [(m.topic, m.status, m.attempts, m.last_error, m.next_attempt_at) for m in rows]


def test_approval_queues_requests_and_the_worker_opens_every_account(app, submitted, approve, app_row, stage):
    reference = submitted()
    approve(reference)
    application = app_row(reference)
    assert (application.status, stage(reference)) == ("approved", "accounts_opening")
    assert [(topic, status) for topic, status, *_ in messages(app, application.id)] == [
        ("csdc.open_accounts", "pending"), ("bank.bind_depository", "pending")]

    summary = deliver(app)

    assert summary.delivered == 2
    assert stage(reference) == "awaiting_return_visit"
    with app.app_context():
        fund = db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))
        assert fund.status == "inactive" and fund.number.startswith("0101") and len(fund.number) == 12
        customer = db.session.get(Customer, fund.customer_id)
        assert customer.unified_account_no and customer.unified_account_no.startswith("18")
        subs = list(db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.fund_account_id == fund.id)))
        assert sorted(s.market for s in subs) == ["SH", "SZ"]
        assert all(s.simulated and s.status == "inactive" for s in subs)
        binding = db.session.scalar(select(DepositoryBinding).where(DepositoryBinding.fund_account_id == fund.id))
        assert binding.status == "bound" and binding.simulated and binding.bank_card == factories.BANK_CARD
        # The application's own lifecycle ended at approval; the return visit has a case of its own.
        reasons = [c.to_status for c in db.session.scalars(select(StatusChange).where(
            StatusChange.application_id == application.id).order_by(StatusChange.id))]
        assert reasons == ["submitted", "approved"]
        case = db.session.scalar(select(ReturnVisitCase).where(ReturnVisitCase.application_id == application.id))
        assert (case.status, case.round_no, case.fund_account_id) == ("awaiting", 1, fund.id)


def test_china_clearing_down_three_times_then_back_opens_exactly_one_set(app, submitted, approve, app_row, stage):
    reference = submitted()
    approve(reference)
    csdc = app.extensions["china_clearing"]
    csdc.faults.fail_next(3)
    application_id = app_row(reference).id
    now = utcnow()

    for attempt in range(1, 4):
        deliver(app, now=now)
        topic, status, attempts, error, next_at = messages(app, application_id)[0]
        assert (status, attempts) == ("pending", attempt)
        assert "中国结算" in error and "模拟" in error
        assert next_at > now  # backing off, not hammering
        assert stage(reference) == "accounts_opening"
        now = next_at + timedelta(seconds=1)

    deliver(app, now=now)

    assert stage(reference) == "awaiting_return_visit"
    assert csdc.faults.calls == 4
    assert count(app, sim_unified_account) == 1
    assert count(app, sim_sub_account) == 2
    assert count(app, SecuritiesAccount) == 2


def test_backoff_grows_and_is_capped():
    delays = [outbox.backoff(n).total_seconds() for n in range(1, 12)]
    assert 1.6 <= delays[0] <= 2.4
    assert delays[3] > delays[1]
    assert max(delays) <= outbox.MAX_BACKOFF_SECONDS * 1.2


def test_a_message_not_yet_due_is_left_alone(app, submitted, approve, app_row, stage):
    reference = submitted()
    approve(reference)
    app.extensions["china_clearing"].faults.fail_next(1)
    deliver(app)
    assert deliver(app).delivered == 0  # the failed one waits for its backoff
    assert stage(reference) == "accounts_opening"


def test_a_request_repeated_after_a_lost_answer_opens_nothing_twice(app, submitted, approve, app_row):
    """The remote side did the work but our commit was lost: the retry must reuse it."""
    reference = submitted()
    approve(reference)
    application_id = app_row(reference).id
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.application_id == application_id,
                                                                OutboxMessage.topic == "csdc.open_accounts"))
        handler = outbox.HANDLERS[message.topic]()
        payload, key = message.payload, message.idempotency_key
        db.session.commit()  # as the worker does: no transaction open while the other side works
        first = handler.deliver(payload, key)  # the answer is then "lost"

    deliver(app)

    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.application_id == application_id,
                                                                OutboxMessage.topic == "csdc.open_accounts"))
        assert message.result == first
    assert count(app, sim_unified_account) == 1
    assert count(app, SecuritiesAccount) == 2


def test_an_existing_unified_account_is_reused(app, submitted, approve, app_row):
    first = submitted()
    approve(first)
    deliver(app)
    # The same person opens again (e.g. at another branch): the first one passed its return visit.
    with app.app_context():
        from blueprints.opening.models import Application
        from blueprints.return_visit import services as return_visit
        application = db.session.scalar(select(Application).where(Application.reference == first))
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        return_visit.record_visit(application, agent, "passed", return_visit.required_items(application), "")
        db.session.commit()
    second = submitted()
    approve(second)
    deliver(app)

    assert count(app, sim_unified_account) == 1
    with app.app_context():
        numbers = set(db.session.scalars(select(SecuritiesAccount.unified_account_no)))
        results = [m.result for m in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "csdc.open_accounts").order_by(OutboxMessage.id))]
    assert len(numbers) == 1
    assert [r["reused"] for r in results] == [False, True]
    assert results[0]["sub_accounts"] == results[1]["sub_accounts"]


def test_a_refusal_stops_retries_and_is_recorded(app, submitted, approve, app_row, stage):
    reference = submitted()
    approve(reference)
    app.extensions["depository_bank"].faults.reject_next("银行卡户名与证件姓名不符")

    summary = deliver(app)

    assert (summary.delivered, summary.rejected) == (1, 1)
    assert stage(reference) == "accounts_opening"
    with app.app_context():
        binding = db.session.scalar(select(DepositoryBinding))
        assert binding.status == "rejected" and "户名与证件姓名不符" in binding.message
        rejected = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == MessageStatus.REJECTED))
        assert rejected.topic == "bank.bind_depository"
    assert deliver(app, now=utcnow() + timedelta(hours=1)).delivered == 0


def test_a_slow_service_counts_as_unavailable(app, submitted, approve, app_row):
    reference = submitted()
    approve(reference)
    faults = app.extensions["china_clearing"].faults
    faults.timeout, faults.delay = 0.05, 0.05
    try:
        summary = deliver(app)
    finally:
        faults.reset()
        faults.timeout = 10.0
    assert summary.retried == 1
    assert "超时" in messages(app, app_row(reference).id)[0][3]


def test_worker_command_delivers_what_is_due(app, submitted, approve, app_row, stage):
    reference = submitted()
    approve(reference)
    result = app.test_cli_runner().invoke(args=["outbox-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "delivered 2" in result.output
    assert stage(reference) == "awaiting_return_visit"


@pytest.fixture(autouse=True)
def _reset_simulators(app):
    yield
    app.extensions["china_clearing"].faults.reset()
    app.extensions["depository_bank"].faults.reset()
    app.extensions["trading"].faults.reset()


def test_the_application_says_it_is_waiting_for_china_clearing(app, auth, submitted, approve):
    reference = submitted()
    approve(reference)
    app.extensions["china_clearing"].faults.fail_next(1)
    deliver(app)

    page = auth.get(f"/opening/{reference}/detail").get_data(as_text=True)

    assert "等待中国结算" in page and "已尝试 1 次" in page and "自动重试" in page
    assert "waiting-bank" not in page  # the bank answered
    deliver(app, now=utcnow() + timedelta(minutes=10))
    page = auth.get(f"/opening/{reference}/detail").get_data(as_text=True)
    assert "等待中国结算" not in page and "待回访" in page
