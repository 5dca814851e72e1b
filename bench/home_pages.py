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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import PASSWORD, build, percentiles, timed  # noqa: E402

USERS = ("clerk", "witness", "reviewer", "visitor", "archivist", "manager", "admin", "marketing", "cmanager", "broker")


def add_waiting_work(app, customers: int) -> None:
    """Once per database: the waiting work of bench.dashboard_data.add_waiting_work, one of each per 1,000 customers."""
    from sqlalchemy import func, select

    from bench.dashboard_data import add_waiting_work as add
    from blueprints.opening.models import Application
    from core.extensions import db

    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Application)
                             .where(Application.client_token.like("bench-home-%"))):
            return
        add(max(5, customers // 1000))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary one)")
    parser.add_argument("--url", help="a database URL to build or reuse instead (e.g. PostgreSQL)")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(), f"dashboard-{args.customers}.sqlite3")

    from sqlalchemy import event, func, select

    from app import create_app
    from blueprints.customers.models import Customer
    from core.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url or f"sqlite:///{os.path.abspath(path)}", "SECRET_KEY": "bench",
                      "DATA_KEY": "bench-data-key", "WTF_CSRF_ENABLED": False})
    build(app, args.customers, args.branches)
    add_waiting_work(app, args.customers)
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Customer))
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    print(f"{count:,} customers in {'the database at --url' if args.url else path}")
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
