"""Measure every role's home page (工作台) at 10k, 100k or 1M customers: queries and time per request.

Usage:
    .venv/bin/python bench/home_pages.py --customers 1000000 [--runs 20] [--db FILE]

Builds (or reuses, with --db) the database of bench/dashboard.py, then adds the work a branch
has waiting in proportion to its size, once: for every 1,000 customers one draft, one returned
application (with the reviewer's rejection), one in review and one with scans asked again, all
entered by the demo clerk at the demo branch, and one account awaiting its return visit. So the
clerk's to-do and every queue grow with the database, as they would in a firm ten times larger.
Then logs in as each demo user and times GET / through the test client, counting the SQL
statements each request runs. Prints queries, p50 and p95 in milliseconds per role.
"""
import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import PASSWORD, build, percentiles, timed  # noqa: E402

USERS = ("clerk", "witness", "reviewer", "visitor", "archivist", "manager", "admin", "marketing", "cmanager", "broker")


def add_waiting_work(app, customers: int) -> None:
    """Drafts, returned, in-review and re-requested applications of the demo clerk, and awaiting return visits."""
    from sqlalchemy import func, insert, select

    from blueprints.accounts.models import FundAccount
    from blueprints.auth.models import Staff
    from blueprints.opening.models import Application, ApplicationDocument, StatusChange
    from blueprints.return_visit.models import ReturnVisitCase
    from blueprints.review.models import ReviewDecision
    from core.extensions import db
    from core.timeutil import utcnow

    per_queue = max(5, customers // 1000)
    with app.app_context():
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        have = db.session.scalar(select(func.count()).select_from(Application).where(
            Application.created_by_id == clerk.id, Application.client_token.like("bench-home-%")))
        if have:
            return
        now = utcnow()
        next_id = (db.session.scalar(select(func.max(Application.id))) or 0) + 1
        applications, changes, decisions, documents = [], [], [], []
        for n in range(4 * per_queue):
            aid = next_id + n
            status = ("draft", "rejected", "submitted", "resubmitted")[n % 4]
            at = now - timedelta(minutes=37 * n + 5)
            applications.append({"id": aid, "reference": f"KH{aid:014d}", "client_token": f"bench-home-{aid}",
                                 "branch_id": clerk.branch_id, "channel": "onsite", "customer_type": "individual",
                                 "status": status, "created_by_id": clerk.id, "created_at": at, "updated_at": at,
                                 "customer_name": "测试客户", "submission_no": 0 if status == "draft" else 1})
            if status != "draft":
                changes.append({"application_id": aid, "from_status": "draft", "to_status": status,
                                "actor_id": clerk.id, "at": at})
            if status == "rejected":
                decisions.append({"application_id": aid, "submission_no": 1, "decision": "reject",
                                  "reason": "联系地址不完整", "return_step": "contact", "reviewer_id": reviewer.id,
                                  "operator_id": reviewer.id, "decided_at": at})
            if status == "resubmitted":
                documents.append({"application_id": aid, "kind": "id_front", "sha256": f"{aid:064d}",
                                  "mime": "image/png", "size": 100, "uploaded_by_id": clerk.id, "uploaded_at": at,
                                  "review_status": "requested", "review_reason": "影像模糊"})
        db.session.execute(insert(Application), applications)
        db.session.execute(insert(StatusChange), changes)
        db.session.execute(insert(ReviewDecision), decisions)
        if documents:
            db.session.execute(insert(ApplicationDocument), documents)
        accounts = db.session.execute(select(FundAccount.application_id, FundAccount.id)
                                      .where(FundAccount.branch_id == clerk.branch_id).limit(per_queue)).all()
        db.session.execute(insert(ReturnVisitCase), [
            {"application_id": aid, "fund_account_id": fid, "status": "awaiting", "entered_at": now - timedelta(hours=i),
             "updated_at": now} for i, (aid, fid) in enumerate(accounts)])
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary one)")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(), f"dashboard-{args.customers}.sqlite3")

    from sqlalchemy import event, func, select

    from app import create_app
    from blueprints.customers.models import Customer
    from core.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.path.abspath(path)}", "SECRET_KEY": "bench",
                      "DATA_KEY": "bench-data-key", "WTF_CSRF_ENABLED": False})
    build(app, args.customers, args.branches)
    add_waiting_work(app, args.customers)
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Customer))
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    print(f"{count:,} customers in {path}")
    print(f"{'home page of':<14} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for username in USERS:
        client = app.test_client()
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 303, (username, response.status_code)

        def home():
            response = client.get("/")
            assert response.status_code == 200, (username, response.status_code)
            return response.data

        home()
        statements.clear()
        home()
        queries = len(statements)
        p50, p95 = percentiles(timed(home, args.runs))
        print(f"{username:<14} {queries:8d} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
