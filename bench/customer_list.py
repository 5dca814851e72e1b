"""Measure the customer list (/customers/) at growing customer counts: first and deep page, unfiltered and filtered.

Usage:
    .venv/bin/python bench/customer_list.py --customers 10000,100000 [--repeat 30] [--explain]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/customer_list.py --customers ...

Builds a fresh database with the migrations (a temporary SQLite file unless DATABASE_URL is set:
that database is wiped), grows it to each size with bench/crm_data.py, gives the customers risk
classes, grades (60 % 普通 … 2 % 钻石) and 1,000 of the demo branch's to the demo customer
manager; then gets the list through the Flask test client (in process) as the branch manager, as HQ
and as the customer manager: the first page and a page from the middle of the list (a keyset cursor),
without filters and with two (grade 金卡 and risk class C3). Prints p50 / p95 in ms per line.
`--explain` prints the query plan of each list query.
"""
import argparse
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench import crm_data  # noqa: E402
from bench.customer_search import build_app  # noqa: E402
from blueprints.auth.models import Staff  # noqa: E402
from blueprints.customers.models import Customer  # noqa: E402
from blueprints.search import listing  # noqa: E402
from core import keyset  # noqa: E402
from core.extensions import db  # noqa: E402
from core.timeutil import business_today  # noqa: E402
from tests.conftest import Auth  # noqa: E402

TWO_FILTERS = {"grade": "gold", "risk": "C3"}
BOOK = 1000


def enrich(after_id: int) -> None:
    """Risk classes, grades and assignments for the customers above `after_id` (set-based, both databases)."""
    params = {"after": after_id}
    db.session.execute(text("UPDATE customer SET risk_class = 'C' || ((id * 7919) % 5 + 1) WHERE id > :after"), params)
    db.session.execute(text(
        "INSERT INTO customer_grade (customer_id, grade, figures, valued_on, computed_at) "
        "SELECT id, CASE WHEN (id * 31) % 100 < 60 THEN 'normal' WHEN (id * 31) % 100 < 80 THEN 'silver' "
        "WHEN (id * 31) % 100 < 92 THEN 'gold' WHEN (id * 31) % 100 < 98 THEN 'platinum' ELSE 'diamond' END, "
        "'{}', :day, :now FROM customer WHERE id > :after"), {**params, "day": date(2026, 11, 30),
                                                             "now": datetime(2026, 11, 30)})
    # A customer manager serves about BOOK customers whatever the size of the firm.
    manager = db.session.scalar(select(Staff).where(Staff.username == "cmanager"))
    served = db.session.scalar(text("SELECT count(*) FROM customer_assignment WHERE staff_id = :s"), {"s": manager.id})
    db.session.execute(text(
        "INSERT INTO customer_assignment (customer_id, staff_id, effective_from, reason, created_at) "
        "SELECT id, :staff, :start, 'bench', :now FROM customer WHERE id > :after AND branch_id = :branch "
        "AND id % 3 = 0 ORDER BY id LIMIT :room"),
        {**params, "staff": manager.id, "branch": manager.branch_id, "start": date(2020, 1, 1),
         "now": datetime(2026, 11, 30), "room": max(0, BOOK - served)})
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def middle_cursor(username: str, filters: dict) -> str | None:
    """The cursor of the page that starts halfway down this user's list (computed once, with an offset)."""
    user = db.session.scalar(select(Staff).where(Staff.username == username))
    form_filters = listing.Filters(grade=filters.get("grade"), risk_class=filters.get("risk"))
    found = listing.query(user, form_filters, business_today())
    total = db.session.scalar(select(func.count()).select_from(found.with_only_columns(Customer.id).subquery()))
    if total < 2 * keyset.PAGE_SIZE:
        return None
    row = db.session.execute(found.with_only_columns(Customer.created_at, Customer.id)
                             .order_by(Customer.created_at.desc(), Customer.id.desc())
                             .offset(total // 2).limit(1)).one()
    return keyset.encode_cursor((row.created_at, row.id), listing.SCOPE)


def explain(username: str, filters: dict) -> None:
    user = db.session.scalar(select(Staff).where(Staff.username == username))
    found = listing.query(user, listing.Filters(grade=filters.get("grade"), risk_class=filters.get("risk")),
                          business_today()).order_by(Customer.created_at.desc(), Customer.id.desc()).limit(51)
    compiled = found.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    print(f"   plan ({username}, {filters or 'no filter'}):")
    for line in db.session.execute(text(prefix + str(compiled))).all():
        print("     ", " | ".join(str(v) for v in line))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def timed(auth, args: dict, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = auth.get("/customers/", query_string=args, htmx=True)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (args, response.status_code)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    app = build_app()
    sizes = [int(size) for size in args.customers.split(",")]
    with app.app_context():
        print(f"database: {db.engine.dialect.name}; {args.repeat} requests per line; times in ms (p50 / p95)")
    have = 0
    results: dict = {}
    for size in sizes:
        started = time.perf_counter()
        with app.app_context():
            before = db.session.scalar(select(func.max(Customer.id))) or 0
            crm_data.generate(size - have, seed=size)
            enrich(before)
        have = size
        print(f"\n== {size} customers (generated in {time.perf_counter() - started:.0f} s)")
        for username in ("manager", "admin", "cmanager"):
            auth = Auth(app.test_client())
            assert auth.login(username, "Demo@2026").status_code == 303
            print(f"-- as {username}")
            for label, filters in (("no filter", {}), ("grade + risk class", TWO_FILTERS)):
                with app.app_context():
                    cursor = middle_cursor(username, filters)
                    if args.explain:
                        explain(username, filters)
                for where, extra in (("first page", {}), ("middle page", {"after": cursor} if cursor else None)):
                    if extra is None:
                        continue
                    p50, p95 = timed(auth, {**filters, **extra}, args.repeat)
                    results[(size, username, label, where)] = p50
                    print(f"{label:20s} {where:12s} {p50:7.1f} / {p95:7.1f}")
    if len(sizes) > 1:
        print(f"\np50 ratio {sizes[-1]} / {sizes[0]} customers:")
        for (size, username, label, where), value in results.items():
            if size == sizes[0] and (sizes[-1], username, label, where) in results:
                print(f"{username:9s} {label:20s} {where:12s} {results[(sizes[-1], username, label, where)] / value:5.2f}")


if __name__ == "__main__":
    main()
