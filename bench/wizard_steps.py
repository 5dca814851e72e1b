"""Measure server time per wizard step, and concurrent writers on one database.

Usage:
    .venv/bin/python bench/wizard_steps.py [--applications 30] [--threads 4]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/wizard_steps.py

It builds a fresh database with the migrations (a temporary SQLite file unless
DATABASE_URL is set — that database is wiped), walks N applications through all
nine steps with the Flask test client (no network, no browser), and prints the
median and 95th percentile per step; then T threads each walk their own
applications at once and it prints the wall time and any failures.
"""
import argparse
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from blueprints.auth.models import Staff  # noqa: E402
from blueprints.opening.workflow import keys_for  # noqa: E402
from bench.common import fresh_app  # noqa: E402
from core.extensions import db  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import Auth  # noqa: E402


def build_app():
    app = fresh_app()
    with app.app_context():
        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
    return app, clerk_id


def payloads(clerk_id: int, index: int) -> dict:
    # A distinct birth date per application keeps the consistency check out of the way.
    birth = date(1960, 1, 1) + timedelta(days=index)
    number = factories.make_id("110105", f"{birth:%Y%m%d}", "315")
    return {
        "identity": factories.identity(id_number=number, birth_date=birth.isoformat()),
        "contact": factories.contact(),
        "verification": {},
        "agent": {"has_agent": "no"},
        "documents": factories.documents(),
        "disclosure": factories.disclosure(clerk_id),
        "suitability": factories.answers(birth_date=birth.isoformat()),
        "agreements": factories.agreements(),
        "summary": {},
    }


def walk(auth: Auth, clerk_id: int, index: int, timings: dict) -> None:
    started = time.perf_counter()
    reference = factories.start(auth, token=f"bench-{index}-{time.time_ns()}")
    timings["channel"].append(time.perf_counter() - started)
    data = payloads(clerk_id, index)
    for key in keys_for("onsite")[1:]:
        started = time.perf_counter()
        response = auth.post(factories.step_url(reference, key), data[key], htmx=True)
        timings[key].append(time.perf_counter() - started)
        if response.status_code not in (200, 204, 303):
            raise RuntimeError(f"{key}: {response.status_code}")


def _p(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))]


def bare_page_times(count: int) -> list[float]:
    """The baseline: a bare Flask + Jinja2 page through the same test client, as many times."""
    from bench.bare_app import app as bare

    client = bare.test_client()
    for _ in range(20):
        client.get("/")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.get("/")
        times.append(time.perf_counter() - started)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=30)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file (bench/report.py reads it)")
    args = parser.parse_args()
    app, clerk_id = build_app()
    with app.app_context():
        print(f"database: {db.engine.dialect.name}")

    auth = Auth(app.test_client())
    auth.login()
    walk(auth, clerk_id, 0, defaultdict(list))  # warm-up: templates compiled, caches filled
    timings = defaultdict(list)
    for index in range(1, args.applications + 1):
        walk(auth, clerk_id, index, timings)
    print(f"{'step':<14}{'median ms':>10}{'p95 ms':>10}")
    for key in keys_for("onsite"):
        values = sorted(timings[key])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{key:<14}{statistics.median(values) * 1000:>10.1f}{p95 * 1000:>10.1f}")
    total = sum(sum(v) for v in timings.values()) / args.applications
    print(f"whole wizard: {total * 1000:.0f} ms server time per application")
    every = sorted(value for values in timings.values() for value in values)
    bare = bare_page_times(len(every))
    print(f"every step: p50 {statistics.median(every) * 1000:.1f} ms, p99 {_p(every, 0.99) * 1000:.1f} ms; "
          f"a bare Flask + Jinja2 page (bench/bare_app.py, the same test client): "
          f"p50 {statistics.median(bare) * 1000:.2f} ms, p99 {_p(bare, 0.99) * 1000:.2f} ms")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({
            "p50": statistics.median(every) * 1000, "p99": _p(every, 0.99) * 1000,
            "bare_p50": statistics.median(bare) * 1000, "bare_p99": _p(bare, 0.99) * 1000,
            "per_application": total * 1000}))

    failures = []
    clients = [Auth(app.test_client()) for _ in range(args.threads)]
    for client in clients:
        client.login()
    per_thread = max(1, args.applications // args.threads)

    def worker(n: int, client: Auth):
        try:
            for i in range(per_thread):
                walk(client, clerk_id, 1000 + n * per_thread + i, defaultdict(list))
        except Exception as exc:  # counted and printed, the run goes on
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n, c)) for n, c in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = per_thread * args.threads
    print(f"concurrent: {args.threads} threads, {done} applications in {elapsed:.2f} s "
          f"({done / elapsed:.1f} applications/s), failures: {len(failures)}")
    for failure in failures[:5]:
        print("  ", failure)


if __name__ == "__main__":
    main()
