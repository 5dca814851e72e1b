"""Fixtures: one migrated database per run, emptied and re-seeded before every test."""
import os
import re

import pytest
from sqlalchemy import text

from app import create_app
from blueprints.auth.services import hash_password
from blueprints.home.demo import DEMO_PASSWORD, seed_demo
from core.extensions import db
from core.storage import LocalStore

# A scrypt check costs 0.3 s per login; the tests hash with a cheap method (production keeps scrypt).
TEST_HASH_METHOD = "pbkdf2:sha256:1000"
# Reference data loaded by migrations survives the per-test wipe.
KEEP_TABLES = {"alembic_version", "questionnaire"}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite3"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "DATA_KEY": "test-data-key",
        "PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
        "FILE_STORE": str(tmp_path_factory.mktemp("files")),
        # A job a request queues runs inside that request, after its commit: no worker to wait for.
        # The browser tests' live server has a worker beside it instead (tests/e2e/conftest.py).
        "JOBS_EAGER": True,
        "SCHEDULE_ENABLED": False,
    })
    with app.app_context():
        from flask_migrate import upgrade

        _drop_everything()
        upgrade()
    return app


def _drop_everything():
    """Start the run from an empty schema, so migrations are exercised from nothing."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def demo_hash():
    return hash_password(DEMO_PASSWORD, method=TEST_HASH_METHOD)


@pytest.fixture(autouse=True)
def clean_db(request):
    """Give every test that uses the app the same start: demo branches, users and customer."""
    if "app" not in request.fixturenames:
        yield  # pure unit tests need no database
        return
    reset_database(request.getfixturevalue("app"), request.getfixturevalue("demo_hash"))
    yield


def _truncate(tables, attempts: int = 3) -> None:
    """Empty the tables on PostgreSQL. A browser test's live server may still be writing (a session's
    last-seen time, a job's heartbeat) when the next test starts: a deadlock with it is tried again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            # The audit trail refuses TRUNCATE (its trigger); the tests' superuser wipes it with triggers off.
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            db.session.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
            return
        except OperationalError as error:
            db.session.rollback()
            if "deadlock" not in str(error.orig).lower() or attempt == attempts - 1:
                raise


def reset_database(app, demo_hash):
    """Empty every table but the reference data, re-seed the demo, reset the simulators."""
    with app.app_context():
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        if db.engine.dialect.name == "postgresql":
            _truncate(tables)
        else:
            for table in tables:
                db.session.execute(table.delete())
        db.session.commit()
        seed_demo(password_hash=demo_hash)
        # The dictionaries' starting entries (seeded by their migration) come back after the wipe.
        from blueprints.dictionaries.services import seed_defaults

        seed_defaults()
        db.session.commit()
        app.extensions["identity_service"].reset()
        for simulator in ("china_clearing", "depository_bank", "trading"):
            app.extensions[simulator].reset()  # faults, service hours and clock back to the configured ones


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    """An empty local file store of this test's own (the app's is shared by the run)."""
    store = LocalStore(str(tmp_path / "files"))
    monkeypatch.setitem(app.extensions, "file_store", store)
    return store


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page carries no CSRF token"
    return match.group(1)


class Auth:
    """Log in as a demo user and post forms with the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username="clerk", password=DEMO_PASSWORD):
        page = self.client.get("/auth/login")
        self.token = csrf_token_from(page.get_data(as_text=True))
        response = self.client.post("/auth/login", data={"username": username, "password": password, "csrf_token": self.token})
        if response.status_code == 303:
            self.token = csrf_token_from(self.client.get("/").get_data(as_text=True))
        return response

    def post(self, url, data=None, htmx=False, **kwargs):
        headers = kwargs.pop("headers", {})
        headers["X-CSRFToken"] = self.token
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data=data or {}, headers=headers, **kwargs)

    def get(self, url, htmx=False, **kwargs):
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.get(url, headers=headers, **kwargs)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def identity_service(app):
    return app.extensions["identity_service"]
