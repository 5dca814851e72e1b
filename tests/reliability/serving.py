"""Real processes for the kill -9 tests: gunicorn and the outbox worker on the test database, and a staff member over HTTP."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from blueprints.home.demo import DEMO_PASSWORD
from tests.serving.test_serve import _free_port, _serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # gunicorn and flask beside the interpreter running the tests


def _env(app, **extra) -> dict:
    return dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], FILE_STORE=app.config["FILE_STORE"],
                SECRET_KEY="test-secret", DATA_KEY="test-data-key", APP_MODE="production",
                # The throw-away PostgreSQL cluster runs without fsync: its durability is not the test's subject.
                REQUIRE_DURABLE_DATABASE="0", SCHEDULE_ENABLED="0", ACCESS_LOG="/dev/null", **extra)


class Process:
    """A process group of its own, so SIGKILL reaches the gunicorn master and its workers at once."""

    def __init__(self, command: list[str], env: dict):
        import tempfile

        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=self.log, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def errors(self) -> str:
        """The end of what the process wrote to stderr (a pipe could fill and block it)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def kill(self) -> None:
        """kill -9 of the whole group: no handler runs, nothing is flushed or closed."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Server(Process):
    def __init__(self, app, workers: int = 2):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
                         _env(app, HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers),
                              WEB_TIMEOUT="30"))
        deadline = time.monotonic() + 60
        while not _serving(self.port):
            assert self.alive(), f"gunicorn ended: {self.errors()}"
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)


class OutboxWorker(Process):
    def __init__(self, app, slowed: bool = False):
        command = ([sys.executable, "-m", "tests.reliability.slow_outbox_worker"] if slowed
                   else [str(BIN / "flask"), "--app", "app", "outbox-worker", "--poll", "0.1"])
        super().__init__(command, _env(app))


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Staff:
    """A staff member in a real HTTP session: login, then posts that carry the CSRF token."""

    def __init__(self, base_url: str, username: str):
        self.base, self.session = base_url, requests.Session()
        page = self.session.get(f"{base_url}/auth/login", timeout=10)
        response = self.session.post(f"{base_url}/auth/login", data={
            "username": username, "password": DEMO_PASSWORD, "csrf_token": _token(page.text)},
            allow_redirects=False, timeout=10)
        assert response.status_code == 303, (username, response.status_code)
        self.token = _token(self.session.get(f"{base_url}/", timeout=10).text)

    def post(self, path: str, data: dict | None = None, timeout: float = 10) -> requests.Response:
        return self.session.post(f"{self.base}{path}", data=data or {}, headers={"X-CSRFToken": self.token},
                                 allow_redirects=False, timeout=timeout)
