"""Measure every work list's first page and a deep page as the customers grow: time, statements, decryptions.

Usage:
    .venv/bin/python bench/list_pages.py --customers 10000,100000,1000000 [--repeat 30] [--depth 50]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/list_pages.py --customers ...

Builds a fresh database with the migrations (a temporary SQLite file unless DATABASE_URL is set:
that database is wiped), grows it to each size with bench/crm_data.py and adds the lists' rows
with bench/list_data.py (2 % of openings awaiting a return visit, 0.5 % escalated, applications in
review 1 % and lending entries 10 % of each branch's openings), so every list grows with the table.
Each list is read through the Flask test client (in process, no network) by the branch user who
works it: the first page, and the `--depth`th page (or the last, if the list is shorter), reached
by following "下一页". Prints p50 / p95 in ms, the SQL statements and the decryptions per page, and
at the end the ratio of the largest size's p50 to the smallest's.
"""
import argparse
import html
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench import crm_data, list_data  # noqa: E402
from bench.customer_search import build_app, percentiles  # noqa: E402
from core import crypto  # noqa: E402
from core.extensions import db  # noqa: E402
from tests.conftest import Auth  # noqa: E402

# (label, user, URL, posted form or None)
LISTS = (
    ("return-visit queue", "visitor", "/return-visits/", None),
    ("escalated list", "manager", "/return-visits/escalated", None),
    ("review queue", "reviewer", "/review/", None),
    ("lending register", "manager", "/archive/register", None),
    ("archive: name 王", "archivist", "/archive/", {"name": "王"}),
    ("archive: name 张建", "archivist", "/archive/", {"name": "张建"}),
    ("archive: customer no. C9", "archivist", "/archive/?customer_no=C9", None),
    ("archive: opened since 2017", "archivist", "/archive/?date_from=2017-01-01", None),
)
NEXT_LINK = re.compile(r'class="button keyset-next" href="([^"]+)"')
NEXT_FORM = re.compile(r'name="after" value="([^"]+)">\s*<button type="submit" class="button keyset-next"')


def fetch(auth: Auth, url: str, form: dict | None, cursor: str | None):
    if form is not None:
        return auth.post(url, dict(form, **({"after": cursor} if cursor else {})))
    if cursor:
        url += ("&" if "?" in url else "?") + f"after={cursor}"
    return auth.get(url)


def next_cursor(body: str) -> str | None:
    link = NEXT_LINK.search(body)
    if link:
        return re.search(r"after=([^&]+)", html.unescape(link.group(1))).group(1)
    button = NEXT_FORM.search(body)
    return button.group(1) if button else None


class Counters:
    """SQL statements (a before_cursor_execute listener) and decryptions (core.crypto.decrypt) of one request."""

    def __init__(self, engine):
        self.statements = self.decryptions = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        original = crypto.decrypt

        def counting(token):
            self.decryptions += 1
            return original(token)

        crypto.decrypt = counting

    def _statement(self, *_args):
        self.statements += 1

    def reset(self):
        self.statements = self.decryptions = 0


def measure(auth: Auth, url: str, form, cursor, repeat: int, counters: Counters) -> tuple[float, float, int, int]:
    samples = []
    for _ in range(repeat):
        counters.reset()
        started = time.perf_counter()
        response = fetch(auth, url, form, cursor)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    p50, p95 = percentiles(samples)
    return p50, p95, counters.statements, counters.decryptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--list-share", type=float, default=1.0,
                        help="multiply the lists' shares of the openings (5: full first pages at 10k customers)")
    args = parser.parse_args()
    app = build_app()
    sizes = [int(size) for size in args.customers.split(",")]
    with app.app_context():
        dialect = db.engine.dialect.name
        counters = Counters(db.engine)
    print(f"database: {dialect}; {args.repeat} requests per line; times in ms (p50 / p95), statements, decryptions")
    rng = random.Random(2026)
    have, results = 0, {}
    for size in sizes:
        started = time.perf_counter()
        with app.app_context():
            crm_data.generate(size - have, seed=size)
            share = args.list_share
            counts = list_data.generate(rng, awaiting=0.02 * share, escalated=0.005 * share, in_review=0.01 * share,
                                        lending=0.1 * share)
        have = size
        print(f"\n== {size} customers (generated in {time.perf_counter() - started:.0f} s; new cases {counts})")
        for label, username, url, form in LISTS:
            auth = Auth(app.test_client())
            assert auth.login(username, "Demo@2026").status_code == 303
            cursor, deep, depth = None, None, 1
            while depth < args.depth:
                found = next_cursor(fetch(auth, url, form, cursor).get_data(as_text=True))
                if found is None:
                    break
                cursor, depth = found, depth + 1
            deep = cursor
            for page_label, page_cursor, first in (("first page", None, True), (f"page {depth}", deep, False)):
                p50, p95, statements, decryptions = measure(auth, url, form, page_cursor, args.repeat, counters)
                results.setdefault((label, first), []).append((size, p50))
                print(f"{label:28s} {page_label:10s} {p50:7.1f} / {p95:7.1f}   {statements:3d} statements"
                      f"   {decryptions:3d} decryptions")
    if len(sizes) > 1:
        print(f"\n== p50 at {sizes[-1]} / p50 at {sizes[0]}")
        for (label, first), values in results.items():
            print(f"{label:28s} {'first page' if first else 'deep page':10s} {values[-1][1] / values[0][1]:5.2f}")


if __name__ == "__main__":
    main()
