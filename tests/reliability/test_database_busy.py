"""A database locked or out of reach for a moment: 503 with Retry-After and a Chinese message, never a 500."""
import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from app import create_app
from blueprints.opening.models import Application
from core.extensions import db
from core.security import any_staff
from tests.conftest import Auth, TEST_HASH_METHOD

KEYS = {"SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key", "PASSWORD_HASH_METHOD": TEST_HASH_METHOD}
DEAD_POSTGRESQL = "postgresql+psycopg://postgres@/kyc_test?host=/nonexistent-socket-dir&connect_timeout=2"
NEW_DRAFT = {"channel": "onsite", "customer_type": "individual", "client_token": "busy-draft"}


def _applications(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Application))


@pytest.fixture
def impatient(app):
    """The test database, reached by an app that waits only 200 ms for SQLite's write lock."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **KEYS,
                       "FILE_STORE": app.config["FILE_STORE"], "SQLITE_BUSY_TIMEOUT_MS": 200})


@pytest.fixture
def write_lock(app):
    """Another connection holding SQLite's write lock (BEGIN EXCLUSIVE) until the test lets it go."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)

    class Lock:
        def take(self):
            holder.execute("BEGIN EXCLUSIVE")

        def release(self):
            if holder.in_transaction:
                holder.execute("ROLLBACK")

    lock = Lock()
    yield lock
    lock.release()
    holder.close()


def test_a_save_while_the_database_is_locked_gets_a_retry_message_and_keeps_the_form(app, impatient, write_lock):
    clerk = Auth(impatient.test_client())
    clerk.login()
    write_lock.take()

    response = clerk.post("/opening/new", NEW_DRAFT, htmx=True)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    # Swapped into the flash area (app.js shows it in the banner): the form the clerk typed into stays.
    assert response.headers["HX-Retarget"] == "#flash"
    body = response.get_data(as_text=True)
    assert "数据库繁忙" in body and "您的输入未保存" in body and "<form" not in body

    plain = clerk.post("/opening/new", NEW_DRAFT)
    assert plain.status_code == 503 and "请返回上一页后再次提交" in plain.get_data(as_text=True)

    write_lock.release()
    assert clerk.post("/opening/new", NEW_DRAFT).status_code == 303
    assert _applications(app) == 1  # the refused attempts left nothing; the retry made the one draft


def test_a_page_read_while_the_database_is_locked_is_not_shown_without_its_audit_row(app, impatient, write_lock):
    clerk = Auth(impatient.test_client())
    clerk.login()
    write_lock.take()

    response = clerk.get("/")  # readable in WAL mode, but its read audit rows cannot be written

    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "数据库繁忙，请稍后刷新页面重试" in body and 'href="/?"' in body  # a retry link to the same page


def test_a_commit_that_fails_says_the_outcome_is_not_known(app, auth, monkeypatch):
    auth.login()

    def locked(_session):
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr("sqlalchemy.orm.Session.commit", locked)
    response = auth.post("/opening/new", NEW_DRAFT, htmx=True)
    monkeypatch.undo()

    assert response.status_code == 503
    assert "无法确认本次操作是否已保存" in response.get_data(as_text=True)
    assert _applications(app) == 0


def test_a_database_error_that_is_a_defect_is_not_called_busy(app):
    probe = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **KEYS})

    def broken():
        db.session.execute(text("SELECT * FROM no_such_table"))
        return ""

    probe.add_url_rule("/probe-broken", "probe_broken", any_staff(broken))
    client = Auth(probe.test_client())
    client.login()
    with pytest.raises(Exception, match="no_such_table|no such table"):  # the tests see the 500's exception
        client.get("/probe-broken")


def test_an_unreachable_postgresql_gets_a_retry_page_not_a_500(app):
    """Logged in, then the database goes away: the next page says to wait, and needs nothing from it."""
    clerk = Auth(app.test_client())
    clerk.login()
    cut_off = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": DEAD_POSTGRESQL, **KEYS,
                          "FILE_STORE": app.config["FILE_STORE"]})
    client = cut_off.test_client()
    client.set_cookie("session", clerk.client.get_cookie("session").value)

    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "数据库繁忙" in page.get_data(as_text=True)

    login = Auth(cut_off.test_client())
    form = login.client.get("/auth/login")
    assert form.status_code in (200, 503)
    response = login.client.post("/auth/login", data={"username": "clerk", "password": "x"},
                                 headers={"HX-Request": "true"})
    assert response.status_code in (400, 503)  # no CSRF token without the page; never a 500


def test_a_page_that_writes_when_read_is_not_refused_because_another_writer_committed_meanwhile(app, monkeypatch):
    """Flask opens the session before it matches the URL. A GET whose view writes (reading a customer's
    file enters the lending register) must hold the write lock from that first read on: a read transaction
    that later writes fails at once with "database is locked" (busy_timeout or not) once another
    connection committed in between — a job worker beside the pages did, in a browser test."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL row locks let a read transaction write after another commit")
    from tests.requests.helpers import login_as

    archivist = login_as(app, "archivist")
    file_url = "/archive/customers/C0101000001"
    assert archivist.post(file_url, {"purpose": "客户投诉处理", "detail": "TS-2026-001"}).status_code == 303

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    interface = app.session_interface
    opened = interface.open_session
    commits_between = []

    def open_then_another_writer_commits(flask_app, request):
        session = opened(flask_app, request)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # refused at once while this request holds the write lock
            version = other.execute("PRAGMA user_version").fetchone()[0]
            other.execute(f"PRAGMA user_version = {version + 1}")
            other.execute("COMMIT")
            commits_between.append(version + 1)
        except sqlite3.OperationalError:
            pass
        finally:
            other.close()
        return session

    monkeypatch.setattr(interface, "open_session", open_then_another_writer_commits)
    response = archivist.get(file_url)
    monkeypatch.undo()

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert commits_between == []  # the request held the write lock from the session's read on
