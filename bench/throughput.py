"""Requests per second and p95 of the main pages under gunicorn, beside a bare Flask + Jinja2 page.

Usage:
    .venv/bin/python bench/throughput.py [--customers 10000] [--connections 8] [--seconds 10] [--web-workers 2]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/throughput.py   (that database is wiped)

Builds a fresh database (a temporary SQLite file unless DATABASE_URL is set) with the migrations, the
demo data and `--customers` generated customers, and serves it with gunicorn (gunicorn.conf.py,
`--web-workers` sync workers, no job or outbox worker) on a free loopback port; beside it, the same
gunicorn serves bench/bare_app.py (one Jinja2 page of 50 rows, no database). Then for each page,
`--connections` keep-alive connections (in two client processes) ask for it as fast as they can for
`--seconds`: the bare page, the login page (anonymous), and as demo users the home page, the
customers list, the review queue and a customer's page. Prints requests/s, p50 and p95 (ms) and
each page's requests/s as a share of the bare page's. The clients share the cores with the server.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import wait_until_serving  # noqa: E402
from bench.load_test import HttpClient, _csrf, free_port  # noqa: E402

DEMO_PASSWORD = "Demo@2026"
PAGES = [  # label, user (None: anonymous), path
    ("bare Flask + Jinja2 page", None, "/"),
    ("login page", None, "/auth/login"),
    ("home (clerk)", "clerk", "/"),
    ("customers list (manager)", "manager", "/customers/"),
    ("review queue (reviewer)", "reviewer", "/review/"),
    ("customer page (manager)", "manager", "/customers/C0101000001"),
]


def build(url: str, customers: int) -> None:
    from bench import crm_data
    from bench.common import fresh_app
    from core.extensions import db

    app = fresh_app(url, SECRET_KEY="bench-secret", DATA_KEY="bench-data-key")
    with app.app_context():
        if customers:
            crm_data.generate(customers)
        db.session.commit()


def serve(target: str, port: int, web_workers: int, url: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(web_workers), ACCESS_LOG="/dev/null",
               APP_MODE="production", SECRET_KEY="bench-secret", DATA_KEY="bench-data-key",
               FILE_STORE=tempfile.mkdtemp(prefix="kyc-bench-files-"))
    if url:
        env["DATABASE_URL"] = url
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", target], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    return wait_until_serving(server, port, target)


def _logged_in(port: int, user: str | None) -> HttpClient:
    client = HttpClient(port)
    if user:
        token = _csrf(client.get("/auth/login").get_data(as_text=True))
        response = client.post("/auth/login", {"username": user, "password": DEMO_PASSWORD, "csrf_token": token})
        assert response.status_code == 303, f"login {user}: {response.status_code}"
    return client


def _client_process(port, user, path, threads, start_at, seconds, queue):
    clients = [_logged_in(port, user) for _ in range(threads)]
    latencies, errors = [], []

    def run(client):
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            began = time.perf_counter()
            response = client.get(path)
            if response.status_code != 200:
                errors.append(response.status_code)
            latencies.append(time.perf_counter() - began)

    workers = [threading.Thread(target=run, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, errors))


def measure(port: int, user: str | None, path: str, connections: int, seconds: float) -> dict:
    processes = 2 if connections > 1 else 1
    queue = multiprocessing.Queue()
    start_at = time.time() + 3 + connections * 0.4  # after every connection has logged in
    children = [multiprocessing.Process(target=_client_process, args=(
        port, user, path, connections // processes + (index < connections % processes), start_at, seconds, queue))
        for index in range(processes)]
    for child in children:
        child.start()
    latencies, errors = [], []
    for _ in children:
        got, failed = queue.get()
        latencies += got
        errors += failed
    for child in children:
        child.join()
    latencies.sort()
    return {"rps": len(latencies) / seconds, "p50": 1000 * statistics.median(latencies),
            "p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))], "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file (bench/report.py reads it)")
    args = parser.parse_args()
    where = tempfile.mkdtemp(prefix="kyc-bench-")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{where}/bench.sqlite3"
    build(url, args.customers)
    app_port, bare_port = free_port(), free_port()
    servers = [serve("app:create_app()", app_port, args.web_workers, url),
               serve("bench.bare_app:app", bare_port, args.web_workers)]
    try:
        print(f"{url.split(':')[0]}, {args.customers} customers, gunicorn {args.web_workers} sync workers, "
              f"{args.connections} connections, {args.seconds:.0f} s per page, {os.cpu_count()} cores")
        print(f"{'page':<28}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'vs bare':>9}{'errors':>8}")
        bare, rows = None, {}
        for label, user, path in PAGES:
            port = bare_port if label.startswith("bare") else app_port
            result = measure(port, user, path, args.connections, args.seconds)
            bare = bare or result["rps"]
            rows[label] = result
            print(f"{label:<28}{result['rps']:>9.0f}{result['p50']:>9.1f}{result['p95']:>9.1f}"
                  f"{result['rps'] / bare:>9.2f}{result['errors']:>8}")
        if args.json:
            Path(args.json).write_text(json.dumps(rows))
    finally:
        for server in servers:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
