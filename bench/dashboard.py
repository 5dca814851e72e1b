"""Measure the statistics dashboard at 10k, 100k or 1M customers (SQLite, in-process).

Usage:
    .venv/bin/python bench/dashboard.py --customers 1000000 [--branches 40] [--runs 30] [--db FILE | --url URL] [--plans]

Builds a database with the migrations (once per --db file; kept for the next run), fills it
with bench/dashboard_data.generate (customers, openings over three years, return visits,
changes, closures), then times in this process, through the test client:
the whole dashboard page for HQ (all branches) and for a branch manager, each figure's
query alone (HQ, default period of 30 days), and the export of the whole dashboard.
Prints p50 and p95 in milliseconds.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "Bench@2026"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(fn, runs: int) -> list[float]:
    fn()  # warm: templates compiled, pages in the cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def build(app, customers: int, branches: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from bench.dashboard_data import generate
    from blueprints.home.demo import seed_demo
    from blueprints.auth.services import hash_password
    from blueprints.customers.models import Customer
    from core.extensions import db
    from core.timeutil import utcnow

    with app.app_context():
        upgrade()
        have = db.session.scalar(select(func.count()).select_from(Customer))
        if have >= customers:
            build_crm()
            return
        seed_demo(password_hash=hash_password(PASSWORD, method="pbkdf2:sha256:1000"))
        started = time.perf_counter()
        generate(customers - have, branches, utcnow(),
                 progress=lambda n: print(f"  {n:,} customers ({time.perf_counter() - started:.0f} s)", file=sys.stderr))
        build_crm(analyze=False)
        # What a production database has after its first maintenance: the planner's statistics.
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def build_crm(analyze: bool = True) -> None:
    """Grades, service records, complaints and handovers for the customers, once per database (the CRM figures)."""
    from sqlalchemy import func, select

    from bench.dashboard_data import generate_crm
    from blueprints.service.models import ServiceRecord
    from core.extensions import db
    from core.timeutil import utcnow

    if db.session.scalar(select(func.count()).select_from(ServiceRecord)):
        return
    started = time.perf_counter()
    generate_crm(utcnow(), progress=lambda n: print(f"  CRM rows for {n:,} customers "
                                                    f"({time.perf_counter() - started:.0f} s)", file=sys.stderr))
    if analyze:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary one)")
    parser.add_argument("--url", help="a database URL to build or reuse instead (e.g. PostgreSQL)")
    parser.add_argument("--plans", action="store_true", help="also print EXPLAIN QUERY PLAN of each figure's queries")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(), f"dashboard-{args.customers}.sqlite3")

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url or f"sqlite:///{os.path.abspath(path)}", "SECRET_KEY": "bench",
                      "DATA_KEY": "bench-data-key", "WTF_CSRF_ENABLED": False})
    build(app, args.customers, args.branches)

    from sqlalchemy import func, select

    from blueprints.auth.models import Staff
    from blueprints.customers.models import Customer
    from blueprints.statistics import services
    from blueprints.statistics.forms import DashboardForm
    from core.extensions import db
    from core.timeutil import business_today
    from flask import g
    from werkzeug.datastructures import MultiDict

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Customer))
    print(f"{count:,} customers in {'the database at --url' if args.url else path}")

    def client_for(username):
        client = app.test_client()
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 303, response.status_code
        return client

    rows = []
    for username, label in (("admin", "dashboard page, HQ (all branches)"), ("manager", "dashboard page, branch manager")):
        client = client_for(username)
        rows.append((label, timed(lambda: client.get("/statistics/").data, args.runs)))
    htmx = client_for("admin")
    rows.append(("dashboard fragment (htmx), HQ", timed(lambda: htmx.get("/statistics/", headers={"HX-Request": "true"}).data,
                                                        args.runs)))
    rows.append(("Excel export, whole dashboard, HQ", timed(lambda: htmx.get("/statistics/export.xlsx").data,
                                                            max(5, args.runs // 3))))
    with app.test_request_context():
        admin = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        selection = DashboardForm(MultiDict(), today=business_today()).selection()
        def alone(figure):
            g.pop("statistics_memo", None)  # the customer counts are shared within a request: time each afresh
            return figure.query(admin, selection)

        for figure in services.figures_for(selection):
            rows.append((f"figure {figure.key} (query, HQ)", timed(lambda: alone(figure), args.runs)))
    print(f"{'what':<44} {'p50 ms':>8} {'p95 ms':>8}")
    for label, samples in rows:
        p50, p95 = percentiles(samples)
        print(f"{label:<44} {p50:8.1f} {p95:8.1f}")
    if args.plans:
        print_plans(app, admin_username="admin")


def print_plans(app, admin_username: str) -> None:
    """Run each figure's query once as HQ and print the plan of every statement it ran (SQLite or PostgreSQL)."""
    from flask import g
    from sqlalchemy import event, select
    from werkzeug.datastructures import MultiDict

    from blueprints.auth.models import Staff
    from blueprints.statistics import services
    from blueprints.statistics.forms import DashboardForm
    from core.extensions import db
    from core.timeutil import business_today

    with app.test_request_context():
        admin = db.session.scalar(select(Staff).where(Staff.username == admin_username))
        selection = DashboardForm(MultiDict(), today=business_today()).selection()
        for figure in services.figures_for(selection):
            statements = []

            def keep(_conn, _cursor, statement, parameters, _context, _many):
                statements.append((statement, parameters))

            g.pop("statistics_memo", None)
            event.listen(db.engine, "before_cursor_execute", keep)
            try:
                figure.query(admin, selection)
            finally:
                event.remove(db.engine, "before_cursor_execute", keep)
            print(f"plan of {figure.key}:")
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT") or "FROM branch" in statement:
                    continue  # the branch list: 40 rows
                connection = db.session.connection()
                explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
                for row in connection.exec_driver_sql(explain + statement, parameters):
                    print(f"    {row[-1]}")


if __name__ == "__main__":
    main()
