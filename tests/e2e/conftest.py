"""A live server in a thread and Debian's chromium driven by Playwright."""
import os
import threading
import time

import pytest
from werkzeug.serving import make_server

from core import jobs
from core.extensions import db

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium")
# The sizes the users work at: counter thin client, tablet portrait and landscape.
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "tablet": {"width": 768, "height": 1024},
             "tablet_landscape": {"width": 1024, "height": 768}}
# Every browser test runs at these; a tablet-only flow picks its sizes with indirect parametrize.
DEFAULT_VIEWPORTS = ("desktop", "tablet")
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")


WORKER_ACTIVE = threading.Event()


@pytest.fixture(autouse=True)
def _job_worker_active():
    WORKER_ACTIVE.set()
    yield
    WORKER_ACTIVE.clear()


@pytest.fixture(scope="session")
def live_server(app):
    """The app served as staff use it: with a job worker beside it, which runs what the pages queue."""
    def with_worker_beside(environ, start_response):
        environ[jobs.WORKER_BESIDE] = True
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, with_worker_beside, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stopping = threading.Event()

    def work():
        # It polls only while a browser test runs: the tests after them count statements on the engine.
        with app.app_context():
            while not stopping.is_set():
                if not WORKER_ACTIVE.wait(0.2):
                    continue
                if jobs.run_once() is None:
                    time.sleep(0.2)
                db.session.remove()

    worker = threading.Thread(target=work, name="jobs-worker", daemon=True)
    worker.start()
    yield f"http://127.0.0.1:{server.server_port}"
    stopping.set()
    worker.join(timeout=30)
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium package (scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture(params=DEFAULT_VIEWPORTS, ids=DEFAULT_VIEWPORTS)
def viewport(request):
    return request.param, VIEWPORTS[request.param]


@pytest.fixture
def new_context(browser, live_server, viewport):
    """Open fresh browser contexts (separate cookies: a 'new browser') at the test's size."""
    contexts = []
    name, size = viewport

    def open_context():
        context = browser.new_context(viewport=size, base_url=live_server, locale="zh-CN",
                                      has_touch=name.startswith("tablet"), is_mobile=False)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def console_errors():
    """Browser errors seen during the test; a test that provokes some clears them."""
    return []


@pytest.fixture
def page(new_context, request, console_errors):
    context = new_context()
    page = context.new_page()
    errors = console_errors
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not _expected(msg.text) else None)
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, f"{request.node.name}.png"), full_page=True)
    assert not errors, f"browser errors: {errors}"


def _expected(message: str) -> bool:
    # Chromium logs every 4xx response; a 422 for bad input is the designed answer.
    return message.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
