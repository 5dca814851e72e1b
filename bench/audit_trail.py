"""Measure the audit trail page (审计日志) as the trail grows: first and deep pages, each filter.

Usage:
    .venv/bin/python bench/audit_trail.py --entries 100000,1000000 [--repeat 20] [--depth 20]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/audit_trail.py --entries ...

Builds a fresh database with the migrations and the demo (a temporary SQLite file unless
DATABASE_URL is set: that database is wiped) and appends synthetic entries in bulk: a year of
them, 200 staff members over the demo's branches (the branch manager's 0101 a fifth of them), the
app's real action names (one in two hundred a refusal, one in two thousand a legal-hold action),
three in ten naming one of 50,000 customer numbers. Their chain fields are filler: the page reads
them, never checks them. Each line is read through the Flask test client (session, role check,
its own audit row and commit included) by HQ or the branch manager; "deep" follows 下一页 `--depth`
times. Prints p50 / p95 in ms and the SQL statements per page.
"""
import argparse
import random
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select  # noqa: E402

from bench.customer_search import build_app, percentiles  # noqa: E402
from blueprints.auth.models import Branch  # noqa: E402
from core.extensions import db  # noqa: E402
from core.models import AuditEvent  # noqa: E402
from core.timeutil import business_today, utcnow  # noqa: E402
from tests.conftest import Auth  # noqa: E402

COMMON = ("customer.view", "customers.list", "page.read", "application.view", "application.save_step",
          "auth.login", "auth.logout", "return_visit.queue_view", "review.inbox", "service.view",
          "archive.search", "customer.search", "statistics.view", "home.queue_list")
CUSTOMERS = 50_000
BATCH = 20_000
NEXT_LINK = re.compile(r'class="button keyset-next" href="[^"]*after=([^"&]+)')


def lines(customer_no: str, day: str) -> tuple:
    """(label, user, query string) of each measured line."""
    return (
        ("HQ, everything", "admin", {}),
        ("HQ, refusals", "admin", {"category": "access"}),
        ("HQ, legal holds (rare)", "admin", {"category": "retention"}),
        ("HQ, one customer", "admin", {"object_id": customer_no}),
        ("HQ, one user", "admin", {"staff": "u0007"}),
        ("HQ, one day", "admin", {"date_from": day, "date_to": day}),
        ("branch manager, everything", "manager", {}),
        ("branch manager, logins", "manager", {"category": "auth"}),
    )


def grow(rng: random.Random, count: int, start_seq: int) -> None:
    """Append `count` synthetic entries after `start_seq`, in batches."""
    branches = list(db.session.scalars(select(Branch.id).order_by(Branch.code)))
    home = db.session.scalar(select(Branch.id).where(Branch.code == "0101"))
    staff = [(f"u{n:04d}", home if n % 5 == 0 else rng.choice(branches)) for n in range(200)]
    now = utcnow()
    rows = []
    for index in range(count):
        seq = start_seq + index + 1
        name, branch_id = rng.choice(staff)
        roll = rng.random()
        action = ("access.denied" if roll < 0.005 else "retention.hold_placed" if roll < 0.0055
                  else rng.choice(COMMON))
        names_customer = rng.random() < 0.3
        rows.append({"seq": seq, "at": now - timedelta(seconds=(count - index) * 365 * 86400 / count),
                     "actor_name": name, "branch_id": branch_id, "action": action,
                     "object_type": "customer" if names_customer else None,
                     "object_id": f"C0101{rng.randrange(CUSTOMERS):06d}" if names_customer else None,
                     "ip": f"10.1.{rng.randrange(256)}.{rng.randrange(256)}", "detail": {"endpoint": action},
                     "prev_hash": "0" * 64, "hash": f"{seq:064x}"})
        if len(rows) == BATCH:
            db.session.execute(insert(AuditEvent), rows)
            db.session.commit()
            rows = []
    if rows:
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args()
    app = build_app()
    statements = [0]
    with app.app_context():
        print(f"database: {db.engine.dialect.name}; {args.repeat} requests per line; p50 / p95 in ms, statements")
        event.listen(db.engine, "before_cursor_execute", lambda *_a: statements.__setitem__(0, statements[0] + 1))
    rng = random.Random(2026)
    have = 0
    day = (business_today() - timedelta(days=30)).isoformat()
    for size in (int(s) for s in args.entries.split(",")):
        started = time.perf_counter()
        with app.app_context():
            grow(rng, size - have, db.session.scalar(select(func.max(AuditEvent.seq))) or 0)
            customer_no = db.session.scalar(select(AuditEvent.object_id).where(AuditEvent.object_id.is_not(None))
                                            .order_by(AuditEvent.id.desc()).limit(1))
        have = size
        print(f"\n== {size} entries (appended in {time.perf_counter() - started:.0f} s)")
        for label, username, query in lines(customer_no, day):
            auth = Auth(app.test_client())
            assert auth.login(username, "Demo@2026").status_code == 303
            cursor, depth = None, 1
            while depth < args.depth:
                found = NEXT_LINK.search(auth.get("/audit/", query_string={**query, **(
                    {"after": cursor} if cursor else {})}).get_data(as_text=True))
                if found is None:
                    break
                cursor, depth = found.group(1), depth + 1
            for page_label, page_cursor in (("first page", None), (f"page {depth}", cursor)):
                if page_cursor is None and page_label != "first page":
                    continue
                samples, counted = [], 0
                for _ in range(args.repeat):
                    statements[0] = 0
                    began = time.perf_counter()
                    response = auth.get("/audit/", query_string={**query, **(
                        {"after": page_cursor} if page_cursor else {})})
                    samples.append((time.perf_counter() - began) * 1000)
                    counted = statements[0]
                    assert response.status_code == 200, (label, response.status_code)
                p50, p95 = percentiles(samples)
                print(f"{label:28s} {page_label:10s} {p50:7.1f} / {p95:7.1f}   {counted:3d} statements")


if __name__ == "__main__":
    main()
