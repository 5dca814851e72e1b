"""Measure the home page's reminders (count and first rows of every source) over many customers.

Usage:
    .venv/bin/python bench/reminders.py [--customers 200000]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/reminders.py --customers 1000000

It builds a fresh database with the migrations (a temporary SQLite file unless DATABASE_URL is
set — that database is wiped), inserts N customers at two branches, each with a current profile
(a birth date spread over the year) and an ID document (expiry spread over ten years), in bulk
through SQL, then times every reminder source for a branch clerk and for HQ (median of 5 runs).
"""
import argparse
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from blueprints.auth.models import Branch, Staff  # noqa: E402
from blueprints.customers.models import Customer, CustomerProfile, IdDocument  # noqa: E402
from blueprints.reminders import registry  # noqa: E402
from bench.common import fresh_app  # noqa: E402
from core.extensions import db  # noqa: E402
from core.timeutil import business_today  # noqa: E402

BATCH = 20_000


def build_app():
    return fresh_app()


def fill(count: int) -> None:
    """Insert `count` customers with a profile and an ID document each; the encrypted columns hold a stand-in."""
    branches = list(db.session.scalars(select(Branch.id).where(Branch.is_headquarters.is_(False))))
    today, now, rng = business_today(), datetime(2026, 1, 1), random.Random(7)
    for start in range(0, count, BATCH):
        ids = range(start + 1, min(start + BATCH, count) + 1)
        customers, profiles, documents = [], [], []
        for n in ids:
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
            customers.append({"id": n + 10, "customer_no": f"B{n:012d}", "branch_id": branches[n % len(branches)],
                              "customer_type": "individual", "kind": "current", "profile_version": 1,
                              "created_at": now})
            profiles.append({"customer_id": n + 10, "version": 1, "name": f"客户{n}", "id_type": "resident_id",
                             "id_number": "x", "id_number_index": f"{n:064d}", "name_key": f"客户{n}",
                             "name_pinyin": "kehu", "name_initials": "kh", "birth_date": born,
                             "birth_month_day": f"{born:%m%d}", "source": "import", "created_at": now})
            documents.append({"customer_id": n + 10, "version": 1, "id_type": "resident_id", "id_number": "x",
                              "id_number_index": f"{n:064d}", "name": f"客户{n}", "source": "import",
                              "valid_to": today + timedelta(days=rng.randrange(-365, 3650)), "recorded_at": now})
        db.session.execute(insert(Customer), customers)
        db.session.execute(insert(CustomerProfile), profiles)
        db.session.execute(insert(IdDocument), documents)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
    db.session.commit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    args = parser.parse_args()
    app = build_app()
    with app.app_context():
        started = time.perf_counter()
        fill(args.customers)
        print(f"inserted {args.customers} customers in {time.perf_counter() - started:.1f} s "
              f"({db.engine.dialect.name})")
        today = business_today()
        for username in ("clerk", "admin"):
            user = db.session.scalar(select(Staff).where(Staff.username == username))
            print(f"\n{username} ({'all branches' if user.sees_all_branches else 'one branch'})")
            for source in registry.sources():
                timings, count = [], 0
                for _ in range(5):
                    begun = time.perf_counter()
                    count = source.count(user, today)
                    source.rows(user, today, 0, registry.CARD_ROWS)
                    timings.append((time.perf_counter() - begun) * 1000)
                print(f"  {source.key:<22} {count:>8} customers  {statistics.median(timings):8.1f} ms")
            begun = time.perf_counter()
            registry.reminders_for(user, today)
            print(f"  whole card: {(time.perf_counter() - begun) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
