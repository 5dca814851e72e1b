"""Requests racing each other: one submission, and writers that wait instead of failing."""
import threading

from sqlalchemy import func, select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application, StatusChange
from core.extensions import db
from tests import factories
from tests.conftest import Auth


def _race(calls):
    """Run the callables at the same instant in threads; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # surfaced below, with the thread's index
            errors.append((index, exc))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_simultaneous_submits_make_one_submission(app):
    first, second = Auth(app.test_client()), Auth(app.test_client())
    first.login()
    second.login()
    with app.app_context():
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
    reference = factories.start(first)
    factories.walk(first, reference, "summary", clerk_id)
    url = factories.step_url(reference, "summary")

    responses = _race([lambda: first.post(url), lambda: second.post(url)])

    assert sorted(r.status_code for r in responses) == [303, 303]
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        assert application.status == "submitted"
        changes = db.session.scalar(select(func.count()).select_from(StatusChange)
                                    .where(StatusChange.application_id == application.id))
        assert changes == 1


def test_same_start_token_twice_at_once_opens_one_draft(app):
    first, second = Auth(app.test_client()), Auth(app.test_client())
    first.login()
    second.login()
    data = {"channel": "onsite", "customer_type": "individual", "client_token": "same-click"}

    responses = _race([lambda: first.post("/opening/new", data), lambda: second.post("/opening/new", data)])

    assert [r.status_code for r in responses] == [303, 303]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Application)) == 1


def test_many_clerks_writing_at_once_all_succeed(app):
    clients = [Auth(app.test_client()) for _ in range(8)]
    for client in clients:
        client.login()
    calls = [
        (lambda c=c, i=i: c.post("/opening/new", {"channel": "onsite", "customer_type": "individual",
                                                  "client_token": f"token-{i}"}))
        for i, c in enumerate(clients)
    ]

    responses = _race(calls)

    assert [r.status_code for r in responses] == [303] * 8
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Application)) == 8
