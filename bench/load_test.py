"""A bounded load test: simulated staff against the app under gunicorn, on the loopback only.

Usage:
    .venv/bin/python bench/load_test.py [--staff 50] [--seconds 60] [--customers 10000] [--web-workers 2]
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/load_test.py   (that database is wiped)

It builds a fresh database (a temporary SQLite file unless DATABASE_URL is set) with the migrations,
the demo data and `--customers` generated customers (bench/crm_data.py), adds the simulated staff,
starts scripts/serve (gunicorn with `--web-workers` sync workers and the outbox worker) on a free
loopback port, and runs the staff for `--seconds`, then stops everything by itself. Each member of
staff logs in once, all of them at once before the clock starts (that storm is reported on a line of
its own), then repeats their role's work with a think time of 0.5–1.5 s between requests:

- counter clerks (40 %) open accounts: start a draft and save its steps one by one;
- managers (20 %) search the header box (names, pinyin initials, numbers) and page the customers list;
- reviewers (20 %) read the review queue and the home page;
- archivists (20 %) search the archive by customer number and read the lending register.

It prints, per page: requests, p50, p95 and the maximum in ms, and the 5xx count; then every
acknowledged save (a step answered 2xx/3xx) is looked up in the database: "lost saves" must be 0.
The clients run in their own processes beside the server on the same cores, so they take part of the
machine; the numbers are an upper bound of what the server alone would show.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROLES = [("clerk", 0.4), ("branch_manager", 0.2), ("reviewer", 0.2), ("archivist", 0.2)]
PASSWORD = "Load@2026"


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status_code, self.headers, self.data = status, headers, body

    def get_data(self, as_text=False):
        return self.data.decode() if as_text else self.data


class HttpClient:
    """The test client's get/post over a real socket: cookies kept, redirects not followed."""

    def __init__(self, port: int):
        self.port, self.cookies, self.conn = port, SimpleCookie(), None

    def _request(self, method, url, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, url, body=body, headers=headers)
                raw = self.conn.getresponse()
                data = raw.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for value in raw.headers.get_all("Set-Cookie") or []:
            self.cookies.load(value)
        return Response(raw.status, raw.headers, data)

    def get(self, url, headers=None, **_kwargs):
        return self._request("GET", url, headers=headers)

    def post(self, url, data=None, headers=None, **_kwargs):
        data = data or {}
        if any(isinstance(value, tuple) for value in data.values()):
            body, content_type = _multipart(data)
        else:
            body, content_type = urlencode(data, doseq=True), "application/x-www-form-urlencoded"
        return self._request("POST", url, body=body, headers=dict(headers or {}, **{"Content-Type": content_type}))


def _multipart(data: dict) -> tuple[bytes, str]:
    """A multipart/form-data body: (stream, filename) tuples as files, the rest as fields."""
    boundary = f"----load{time.time_ns()}"
    parts = []
    for name, value in data.items():
        if isinstance(value, tuple):
            stream, filename = value
            stream.seek(0)
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + stream.read() + b"\r\n")
        else:
            for item in value if isinstance(value, list) else [value]:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{item}\r\n'.encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _csrf(html: str) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(html)


# -- the database ----------------------------------------------------------------------------------

def build_database(url: str, customers: int, staff: int) -> tuple[dict, list[tuple[str, str]]]:
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from bench import crm_data
    from bench.common import fresh_app
    from blueprints.auth.models import Branch, Staff
    from core.extensions import db

    app = fresh_app(url, SECRET_KEY="load-secret", DATA_KEY="load-data-key")
    with app.app_context():
        sample = crm_data.generate(customers) if customers else {}
        db.session.commit()
        branch = db.session.scalar(select(Branch).where(Branch.code == "0101"))
        # A cheap hash: logins are not what is measured (production keeps scrypt).
        hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        demo_witness = db.session.scalar(select(Staff).where(Staff.username == "witness"))
        people = []
        rng = random.Random(7)
        for index in range(staff):
            role = rng.choices([r for r, _w in ROLES], [w for _r, w in ROLES])[0]
            username = f"load{index:03d}"
            member = Staff(username=username, full_name=f"压测{index:03d}", role=role, branch_id=branch.id,
                           password_hash=hashed)
            for attribute in ("qualified", "securities_qualified", "is_employee", "trained"):
                if hasattr(demo_witness, attribute) and hasattr(member, attribute):
                    setattr(member, attribute, getattr(demo_witness, attribute))
            db.session.add(member)
            people.append((username, role))
        db.session.commit()
    return {k: v[:200] for k, v in sample.items()}, people


# -- the staff -------------------------------------------------------------------------------------

class Staff:
    def __init__(self, port, username, role, sample, seconds, rng, start):
        from tests.conftest import Auth

        self.start, self.login_seconds = start, None
        self.auth = Auth(HttpClient(port))
        self.username, self.role, self.sample, self.seconds, self.rng = username, role, sample, seconds, rng
        self.deadline = time.monotonic() + seconds
        # Per page: (seconds since the run started, seconds the request took).
        self.timings: dict[str, list[tuple[float, float]]] = {}
        self.run_started = time.monotonic()
        self.statuses: dict[str, dict[int, int]] = {}
        self.saves: list[tuple[str, str]] = []
        self.errors: list[str] = []

    def timed(self, label, call):
        started = time.perf_counter()
        try:
            response = call()
        except Exception as error:  # a refused connection, a timeout: counted, the member carries on
            self.errors.append(f"{label}: {type(error).__name__}: {error}")
            return None
        self.timings.setdefault(label, []).append((time.monotonic() - self.run_started,
                                                   time.perf_counter() - started))
        counts = self.statuses.setdefault(label, {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        return response

    def think(self):
        time.sleep(self.rng.uniform(0.5, 1.5))

    def alive(self):
        return time.monotonic() < self.deadline

    def run(self):
        try:
            self._run()
        except Exception as error:  # reported with the results, not lost in a thread
            self.errors.append(f"{self.username}: {type(error).__name__}: {error}")

    def _run(self):
        try:
            logged_in = self._log_in()
        finally:
            # The run starts once everyone is logged in: fifty logins at once are seconds of scrypt on two
            # cores, a storm no page should be measured in (they are reported on their own line).
            self.start.wait(timeout=300)
        if not logged_in:
            return
        self.run_started = time.monotonic()
        self.deadline = self.run_started + self.seconds  # each member works for the whole run
        work = {"clerk": self.open_accounts, "branch_manager": self.search, "reviewer": self.review,
                "archivist": self.archive}[self.role]
        time.sleep(self.rng.uniform(0, 1.5))  # not all at once
        while self.alive():
            work()

    def _log_in(self) -> bool:
        started = time.perf_counter()
        login = self.auth.client.get("/auth/login")
        token = _csrf(login.get_data(as_text=True))
        response = self.auth.client.post("/auth/login", {"username": self.username, "password": PASSWORD,
                                                         "csrf_token": token})
        if response.status_code != 303:
            self.errors.append(f"login {self.username}: {response.status_code}")
            return False
        self.auth.token = _csrf(self.auth.client.get("/").get_data(as_text=True))
        self.login_seconds = time.perf_counter() - started
        return True

    def open_accounts(self):
        from bench.wizard_steps import payloads
        from blueprints.opening.workflow import keys_for
        from tests import factories

        token = f"{self.username}-{time.time_ns()}"
        response = self.timed("opening: new draft", lambda: self.auth.post(
            "/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": token}))
        if response is None or response.status_code != 303:
            return
        reference = response.headers["Location"].split("/")[2]
        data = dict(payloads(self.clerk_id, self.rng.randrange(10000)), documents=factories.documents())
        # The age question is answered as the ID's birth date says.
        data["suitability"] = factories.answers(birth_date=data["identity"]["birth_date"])
        for key in keys_for("onsite")[1:]:
            if not self.alive():
                return
            self.think()
            label = "opening: submit" if key == "summary" else "opening: save step"
            step = self.timed(label, lambda: self.auth.post(factories.step_url(reference, key), data[key], htmx=True))
            # A save answers with the next step (200); a 204 sends the clerk elsewhere (HX-Redirect), a
            # 4xx refuses: either way this draft goes no further here.
            if step is None or step.status_code != 200:
                if step is not None and step.status_code == 422:
                    self.errors.append(f"step {key} refused: {_field_errors(step.get_data(as_text=True))}")
                return
            if key != "summary":
                self.saves.append((reference, key))

    clerk_id = None

    def search(self):
        kind = self.rng.choice(["name", "initials", "pinyin", "mobile", "customer_no"])
        values = self.sample.get(kind) or ["张"]
        self.timed("search: header box", lambda: self.auth.post("/search/suggest", {"q": self.rng.choice(values)},
                                                                htmx=True))
        self.think()
        self.timed("customers list", lambda: self.auth.get("/customers/"))
        self.think()

    def review(self):
        self.timed("review queue", lambda: self.auth.get("/review/"))
        self.think()
        self.timed("home", lambda: self.auth.get("/"))
        self.think()

    def archive(self):
        numbers = self.sample.get("customer_no") or ["C0101000001"]
        self.timed("archive: search by customer number",
                   lambda: self.auth.get(f"/archive/?customer_no={self.rng.choice(numbers)}"))
        self.think()
        self.timed("archive: lending register", lambda: self.auth.get("/archive/register"))
        self.think()


def run_clients(port, members, sample, seconds, clerk_id, queue, start):
    """One client process: a thread per member of staff; puts its findings on `queue`. `start` is the
    barrier every member of every client process waits at once logged in."""
    Staff.clerk_id = clerk_id
    staff = [Staff(port, username, role, sample, seconds, random.Random(username), start) for username, role in members]
    threads = [threading.Thread(target=s.run) for s in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put([(s.timings, s.statuses, s.saves, s.errors, s.login_seconds) for s in staff])


# -- the server ------------------------------------------------------------------------------------

# The first seconds of a run are every worker's first request of each page (templates compiled,
# statements cached): the p95 after them is printed beside the whole run's.
WARM_SECONDS = 10


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def _field_errors(html: str) -> str:
    """What a refused step said beside its fields."""
    found = re.findall(r'class="field-error"[^>]*>([^<]+)<', html)
    found += re.findall(r'<div class="conflicts"[^>]*>.*?<li>([^<]+)</li>', html, re.S)
    return "; ".join(m.strip() for m in found) or re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))[:200]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, web_workers: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="load-secret", DATA_KEY="load-data-key",
               FILE_STORE=tempfile.mkdtemp(prefix="kyc-load-files-"),
               APP_MODE="production", HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(web_workers),
               ACCESS_LOG="/dev/null")
    server = subprocess.Popen(["bash", str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    from bench.common import wait_until_serving

    return wait_until_serving(server, port, "the server")


def lost_saves(url: str, saves: list[tuple[str, str]]) -> int:
    from sqlalchemy import select

    from app import create_app
    from blueprints.opening.models import Application

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-secret", "DATA_KEY": "load-data-key"})
    by_reference: dict[str, set[str]] = {}
    for reference, key in saves:
        by_reference.setdefault(reference, set()).add(key)
    lost = 0
    with app.app_context():
        from core.extensions import db

        for reference, keys in by_reference.items():
            application = db.session.scalar(select(Application).where(Application.reference == reference))
            lost += sum(1 for key in keys if application is None or application.step_data(key) is None)
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file (bench/report.py reads it)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/load.sqlite3"
    started = time.monotonic()
    sample, people = build_database(url, args.customers, args.staff)
    print(f"database: {url.split(':')[0]}, {args.customers} customers, {len(people)} staff "
          f"(built in {time.monotonic() - started:.0f} s)", flush=True)
    from sqlalchemy import create_engine, text
    clerk_id = create_engine(url).connect().execute(text("SELECT id FROM staff WHERE username='clerk'")).scalar()

    port = free_port()
    server = start_server(url, port, args.web_workers)
    try:
        queue = multiprocessing.Queue()
        start = multiprocessing.Barrier(len(people))
        groups = [people[i::args.client_processes] for i in range(args.client_processes)]
        clients = [multiprocessing.Process(target=run_clients,
                                           args=(port, group, sample, args.seconds, clerk_id, queue, start))
                   for group in groups if group]
        load_before = os.getloadavg()[0]
        for client in clients:
            client.start()
        results = [item for _ in clients for item in queue.get(timeout=args.seconds + 300)]
        for client in clients:
            client.join()
        load_after = os.getloadavg()[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    timings: dict[str, list[tuple[float, float]]] = {}
    statuses: dict[str, dict[int, int]] = {}
    saves, errors, logins = [], [], []
    for member_timings, member_statuses, member_saves, member_errors, login_seconds in results:
        if login_seconds is not None:
            logins.append(login_seconds)
        for label, values in member_timings.items():
            timings.setdefault(label, []).extend(values)
        for label, counts in member_statuses.items():
            for status, n in counts.items():
                statuses.setdefault(label, {}).setdefault(status, 0)
                statuses[label][status] += n
        saves += member_saves
        errors += member_errors
    print(f"{len(people)} staff for {args.seconds:.0f} s, gunicorn {args.web_workers} sync workers, "
          f"load average {load_before:.1f} → {load_after:.1f}")
    if logins:
        logins.sort()
        print(f"before the run, {len(logins)} logged in at once (login page, password, home page): "
              f"p50 {statistics.median(logins) * 1000:.0f} ms, max {logins[-1] * 1000:.0f} ms")
    print(f"{'page':<36} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'5xx':>5}  "
          f"{'p95 after ' + str(WARM_SECONDS) + ' s':>16}  statuses")
    total = fivexx = 0
    pages = {}
    for label in sorted(timings):
        values = sorted(took for _at, took in timings[label])
        warm = sorted(took for at, took in timings[label] if at >= WARM_SECONDS) or values
        bad = sum(n for status, n in statuses[label].items() if status >= 500)
        total, fivexx = total + len(values), fivexx + bad
        pages[label] = {"requests": len(values), "p50": statistics.median(values) * 1000, "p95": _p95(values) * 1000,
                        "max": values[-1] * 1000, "fivexx": bad, "p95_warm": _p95(warm) * 1000}
        print(f"{label:<36} {len(values):>8} {statistics.median(values) * 1000:>8.0f} {_p95(values) * 1000:>8.0f} "
              f"{values[-1] * 1000:>8.0f} {bad:>5}  {_p95(warm) * 1000:>16.0f}  "
              f"{json.dumps(dict(sorted(statuses[label].items())))}")
    print(f"requests: {total} ({total / args.seconds:.1f}/s), 5xx: {fivexx}, client errors: {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    lost = lost_saves(url, saves)
    print(f"acknowledged saves: {len(saves)}, lost saves: {lost}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pages": pages, "requests": total, "rps": total / args.seconds,
                                               "fivexx": fivexx, "client_errors": len(errors), "saves": len(saves),
                                               "lost": lost, "staff": len(people), "seconds": args.seconds}))


if __name__ == "__main__":
    main()
