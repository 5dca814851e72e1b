"""A database busy for a moment, seen from the counter: the step's save answers 503, the page says to wait
and try again, everything typed stays, and the same click saves once the database is free."""
import sqlite3
import threading

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from app import create_app
from tests.conftest import TEST_HASH_METHOD
from tests.e2e.test_opening_wizard import fill_identity, login, save

pytestmark = pytest.mark.e2e


@pytest.fixture
def impatient_server(app):
    """The test database served by an app that waits only 300 ms for SQLite's write lock (the usual 15 s
    would only make the test slower), with the browser tests' live server left as it is."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL has no database-wide write lock to hold")
    impatient = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                            "DATA_KEY": "test-data-key", "PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
                            "FILE_STORE": app.config["FILE_STORE"], "SQLITE_BUSY_TIMEOUT_MS": 300,
                            "SCHEDULE_ENABLED": False})
    server = make_server("127.0.0.1", 0, impatient, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", url.removeprefix("sqlite:///")
    server.shutdown()


@pytest.fixture
def busy_page(browser, viewport, impatient_server, console_errors):
    base_url, _path = impatient_server
    name, size = viewport
    context = browser.new_context(viewport=size, base_url=base_url, locale="zh-CN", has_touch=name.startswith("tablet"))
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    yield page
    context.close()


def test_a_save_while_the_database_is_busy_keeps_the_form_and_succeeds_when_tried_again(
        busy_page: Page, impatient_server, console_errors):
    page = busy_page
    _url, path = impatient_server
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database past the app's wait
    try:
        page.get_by_role("button", name="保存并下一步").click()
        banner = page.locator("#network-error")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("数据库繁忙")
        expect(banner).to_contain_text("您的输入未保存")
        expect(banner).to_contain_text("秒后可重试")
        expect(page.locator("#step-panel")).to_have_attribute("data-step", "identity")
        expect(page.locator("#name")).to_have_value("刘晓明")  # nothing typed is lost
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    save(page, "contact")  # the same click, once the database is free
    expect(page.locator("#network-error")).to_be_hidden()
    assert not console_errors, console_errors
