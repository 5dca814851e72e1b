"""Measure the header search by key type at growing customer counts, against a bare Flask + Jinja2 page.

Usage:
    .venv/bin/python bench/customer_search.py --sizes 10000,100000,1000000 [--repeat 40]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/customer_search.py --sizes ...

Builds a fresh database with the migrations (a temporary SQLite file unless DATABASE_URL is
set: that database is wiped), grows it to each size with bench/crm_data.py, and posts each
kind of query to /search/suggest through the Flask test client (in process, no network) as a
branch manager and as HQ; prints p50/p95 per key type. In the same run a bare Flask app renders
the same 20 rows from one raw indexed query with Jinja2: the floor any page here stands on.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask, render_template_string  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench import crm_data  # noqa: E402
from bench.common import fresh_app  # noqa: E402
from core.extensions import db  # noqa: E402
from tests.conftest import Auth  # noqa: E402

BARE_TEMPLATE = """<!doctype html><html><body><table>
{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.customer_no }}</td><td>{{ row.value }}</td></tr>{% endfor %}
</table></body></html>"""


def build_app():
    from blueprints.auth.services import hash_password

    cheap = "pbkdf2:sha256:1000"
    return fresh_app(password_hash=hash_password("Demo@2026", method=cheap), PASSWORD_HASH_METHOD=cheap)


def bare_app(engine):
    """A bare Flask + Jinja2 page: 20 rows of one indexed range query, nothing else."""
    bare = Flask("bare")
    sql = text("SELECT p.name, c.customer_no, k.value FROM customer_search_key k "
               "JOIN customer c ON c.id = k.customer_id "
               "JOIN customer_profile p ON p.customer_id = c.id AND p.version = c.profile_version "
               "WHERE k.kind = 'pinyin' AND k.value >= :low AND k.value < :high ORDER BY k.value LIMIT 20")

    @bare.route("/", methods=["POST"])
    def rows():
        from flask import request

        with engine.connect() as conn:
            found = conn.execute(sql, {"low": request.form["q"], "high": request.form["q"] + "\U0010ffff"}).all()
        return render_template_string(BARE_TEMPLATE, rows=found)

    return bare


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def time_posts(client_post, queries: list[str], repeat: int) -> list[float]:
    samples = []
    for index in range(repeat):
        query = queries[index % len(queries)]
        started = time.perf_counter()
        response = client_post(query)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (query, response.status_code)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    app = build_app()
    sizes = [int(size) for size in args.sizes.split(",")]
    with app.app_context():
        dialect = db.engine.dialect.name
        bare = bare_app(db.engine).test_client()
    print(f"database: {dialect}; {args.repeat} requests per line; times in ms (p50 / p95)")
    have = 0
    samples: dict = {}
    for size in sizes:
        started = time.perf_counter()
        with app.app_context():
            sample = crm_data.generate(size - have, seed=size)
        for key, values in sample.items():
            samples.setdefault(key, []).extend(values)
        have = size
        print(f"\n== {size} customers (generated in {time.perf_counter() - started:.0f} s)")
        queries = {
            "name (2-3 chars)": samples["name"], "surname only (1 char)": samples["surname"],
            "given name (contains)": samples["given"], "full pinyin": samples["pinyin"],
            "pinyin initials": samples["initials"], "pinyin prefix (1 letter)": [p[:1] for p in samples["pinyin"]],
            "ID number (18)": samples["id"], "ID number (15 → 18)": samples["id15"], "mobile": samples["mobile"],
            "customer number": samples["customer_no"], "fund account": samples["fund_account"],
            "一码通": samples["unified"], "securities account": samples["sub_account"],
        }
        for username in ("manager", "admin"):
            auth = Auth(app.test_client())
            assert auth.login(username, "Demo@2026").status_code == 303
            print(f"-- as {username}")
            for label, values in queries.items():
                if not values:
                    continue
                p50, p95 = percentiles(time_posts(lambda q: auth.post("/search/suggest", {"q": q}, htmx=True),
                                                  values, args.repeat))
                print(f"{label:28s} {p50:7.1f} / {p95:7.1f}")
        p50, p95 = percentiles(time_posts(lambda q: bare.post("/", data={"q": q}), samples["pinyin"], args.repeat))
        print(f"{'bare Flask + Jinja2, 20 rows':28s} {p50:7.1f} / {p95:7.1f}")
        # The customer page (360): every section, as HQ (who may open any customer).
        admin = Auth(app.test_client())
        assert admin.login("admin", "Demo@2026").status_code == 303
        p50, p95 = percentiles(time_posts(lambda no: admin.get(f"/customers/{no}"), samples["customer_no"], args.repeat))
        print(f"{'customer page (HQ)':28s} {p50:7.1f} / {p95:7.1f}")


if __name__ == "__main__":
    main()
