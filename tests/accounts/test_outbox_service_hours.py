"""Requests wait for China Clearing's service hours, and every request shows one of four states."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.auth.models import Staff
from core import outbox
from core.extensions import db
from core.outbox import OutboxMessage
from tests.clock import ahead

SATURDAY = ahead(5, 2)                                # 10:00 in Beijing, a Saturday
MONDAY_OPEN = SATURDAY + timedelta(days=2, hours=-1)  # 09:00 in Beijing, the next opening
THURSDAY_NOON = SATURDAY - timedelta(days=2, hours=-2)  # 12:00 in Beijing, two days before


@pytest.fixture
def csdc(app):
    csdc = app.extensions["china_clearing"]
    csdc.set_service_hours("09:00-16:00")
    yield csdc
    csdc.reset()


def deliver(app, now):
    with app.app_context():
        return outbox.run_once(now=now)


def csdc_message(app, application_id):
    """The China Clearing request of the application, detached with its events loaded."""
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.application_id == application_id,
                                                                OutboxMessage.topic == "csdc.open_accounts"))
        state = {"status": message.status, "attempts": message.attempts, "next_attempt_at": message.next_attempt_at,
                 "last_error": message.last_error, "delivery_label": message.delivery_label,
                 "status_label": message.status_label,
                 "events": [(e.kind, e.label, e.attempt, e.note) for e in message.events]}
        return state


def test_outside_service_hours_a_request_waits_unsent_until_the_opening_and_is_then_delivered(
        app, submitted, approve, app_row, csdc, stage):
    reference = submitted()
    approve(reference)
    application_id = app_row(reference).id
    csdc.clock = lambda: SATURDAY

    summary = deliver(app, now=SATURDAY)

    assert (summary.deferred, summary.retried, summary.delivered) == (1, 0, 1)  # the bank is open
    waiting = csdc_message(app, application_id)
    assert waiting["status"] == "pending" and waiting["status_label"] == "发送中"
    assert waiting["delivery_label"] == "未发送"
    assert waiting["attempts"] == 0 and waiting["last_error"] is None  # not a failure
    assert waiting["next_attempt_at"] == MONDAY_OPEN  # no exponential backoff: the opening time
    [(kind, label, attempt, note)] = waiting["events"]
    assert (kind, label, attempt) == ("deferred", "未在服务时间，等待发送", None)
    assert f"{MONDAY_OPEN:%m-%d} 09:00" in note
    assert stage(reference) == "accounts_opening"

    assert deliver(app, now=MONDAY_OPEN - timedelta(minutes=1)).deferred == 0  # not due before the opening

    csdc.clock = lambda: MONDAY_OPEN
    summary = deliver(app, now=MONDAY_OPEN)

    assert summary.delivered == 1
    done = csdc_message(app, application_id)
    assert done["status"] == "delivered" and done["delivery_label"] == "处理成功"
    assert done["attempts"] == 1
    assert [kind for kind, *_ in done["events"]] == ["deferred", "delivered"]
    assert stage(reference) == "awaiting_return_visit"


def test_a_request_that_failed_once_shows_sent_and_stays_sent_while_it_waits_for_opening(
        app, submitted, approve, app_row, csdc):
    reference = submitted()
    approve(reference)
    application_id = app_row(reference).id
    csdc.clock = lambda: THURSDAY_NOON
    csdc.faults.fail_next(1)

    deliver(app, now=THURSDAY_NOON)
    failed = csdc_message(app, application_id)
    assert failed["delivery_label"] == "已发送" and failed["attempts"] == 1

    csdc.clock = lambda: SATURDAY
    deliver(app, now=SATURDAY)
    waiting = csdc_message(app, application_id)
    assert [kind for kind, *_ in waiting["events"]] == ["failed", "deferred"]
    assert waiting["delivery_label"] == "已发送" and waiting["attempts"] == 1
    assert waiting["next_attempt_at"] == MONDAY_OPEN


def test_a_refused_request_shows_failed_and_once_resent_shows_unsent_again(app, submitted, approve, app_row):
    reference = submitted()
    approve(reference)
    application_id = app_row(reference).id
    app.extensions["china_clearing"].faults.reject_next("联系地址不完整")
    now = THURSDAY_NOON

    deliver(app, now=now)
    assert csdc_message(app, application_id)["delivery_label"] == "处理失败"

    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.application_id == application_id,
                                                                OutboxMessage.topic == "csdc.open_accounts")
                                    .with_for_update())
        manager = db.session.scalar(select(Staff).where(Staff.username == "manager"))
        outbox.resend(message, manager, "补全地址后重发", {"address": "北京市朝阳区建国路1号院2号楼301"}, now=now)
        db.session.commit()
    assert csdc_message(app, application_id)["delivery_label"] == "未发送"

    deliver(app, now=now)
    assert csdc_message(app, application_id)["delivery_label"] == "处理成功"


def test_the_simulator_takes_its_service_hours_from_the_configuration():
    from blueprints.accounts.china_clearing import build_china_clearing

    always = build_china_clearing({"CHINA_CLEARING_SERVICE": "simulator"})
    assert always.service_hours is None
    daytime = build_china_clearing({"CHINA_CLEARING_SERVICE": "simulator",
                                    "CHINA_CLEARING_SERVICE_HOURS": "09:30-15:00"})
    assert daytime.service_hours.spec == "09:30-15:00"
    daytime.set_service_hours(None)
    daytime.reset()
    assert daytime.service_hours.spec == "09:30-15:00"  # reset goes back to the configured hours
