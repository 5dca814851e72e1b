"""Two branch managers resending the same refused request at the same moment: one resend."""
from sqlalchemy import func, select

from blueprints.accounts.depository_bank import sim_bank_request
from core import outbox
from core.extensions import db
from core.outbox import EventKind, OutboxEvent, OutboxMessage
from tests.concurrency.test_concurrent_requests import _race
from tests.requests.helpers import add_staff, application_row, login_as
from tests.requests.test_exceptions import refused_binding, resend_data


def test_two_managers_resending_at_once_make_one_request(app):
    clerk = login_as(app, "clerk")
    try:
        reference, message_id = refused_binding(app, clerk)
    finally:
        app.extensions["depository_bank"].faults.reset()
    add_staff(app, "manager2", "branch_manager", full_name="郑副经理")
    first, second = login_as(app, "manager"), login_as(app, "manager2")
    url = f"/exceptions/{message_id}/resend"

    responses = _race([lambda: first.post(url, resend_data(reason="经理甲核对后重发")),
                       lambda: second.post(url, resend_data(reason="经理乙核对后重发"))])

    assert [r.status_code for r in responses] == [303, 303]
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert (message.status, message.revision) == ("pending", 1)
        resends = db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.message_id == message_id, OutboxEvent.kind == EventKind.RESENT))
        assert resends == 1
        outbox.run_once()
        assert db.session.scalar(select(func.count()).select_from(sim_bank_request)) == 1
    assert application_row(app, reference)["stage"] == "awaiting_return_visit"
    # The one who lost the race is told who did it, and nothing was sent twice.
    notices = [client.get(f"/exceptions/{message_id}").get_data(as_text=True) for client in (first, second)]
    assert sum("本次未重复操作" in notice for notice in notices) == 1
