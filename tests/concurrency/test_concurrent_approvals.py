"""Two reviewers approving the same application at the same moment, from two processes."""
import multiprocessing

from sqlalchemy import func, select

from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Staff
from blueprints.auth.services import hash_password
from blueprints.review.models import ReviewDecision
from core.extensions import db
from core.outbox import OutboxMessage
from core.roles import Role
from tests import factories
from tests.concurrency.approver import approve_in_process


def test_two_reviewers_in_two_processes_get_exactly_one_decision(app, auth, database_url):
    auth.login()
    with app.app_context():
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        first = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        second = Staff(username="reviewer2", full_name="陈复核", role=Role.REVIEWER, branch_id=first.branch_id,
                       password_hash=hash_password("x"))
        db.session.add(second)
        db.session.commit()
        clerk_id, reviewer_ids = clerk.id, (first.id, second.id)
    reference = factories.start(auth)
    factories.walk(auth, reference, "summary", clerk_id)
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=approve_in_process, args=(database_url, reference, rid, barrier, results))
               for rid in reviewer_ids]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["approved", "refused"], outcomes
    refusal = next(detail for kind, detail in outcomes if kind == "refused")
    assert "已由" in refusal or "其他复核人员" in refusal
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReviewDecision)) == 1
        assert db.session.scalar(select(func.count()).select_from(FundAccount)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
