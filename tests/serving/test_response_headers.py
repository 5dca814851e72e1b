"""Response headers: no-store on every answer but the static files, a Server header that names nothing,
no X-Powered-By, under the test client, Werkzeug's development server and gunicorn."""
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, UnicodeConverter
from werkzeug.serving import make_server

from tests.requests.helpers import login_as
from tests.requests.test_customer_list import exportable  # noqa: F401  (a fixture)
from tests.requests.test_return_visit import (awaiting_visit, file_store, post_visit, visit_url,  # noqa: F401
                                              visits, wav_bytes)

ROOT = Path(__file__).resolve().parents[2]
GENERIC_SERVER = "kyc"
VALIDATORS = ("ETag", "Last-Modified", "Expires")


def _url_for_rule(rule) -> str:
    """The rule's path with a plausible value in each variable (found or not, the answer is what is checked)."""
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif getattr(converter, "regex", "").startswith("XH"):
            values[name] = "XH20260101000001"
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, UnicodeConverter) and "reference" in name:
            values[name] = "KH20260101000001"
        else:
            values[name] = "C0101000001" if "customer" in name else "1"
    path, _query = rule.build(values, append_unknown=False)
    return path.split("|", 1)[-1]


def _get_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint != "static" and not rule.arguments - set(rule._converters)]


def assert_not_stored(response, what):
    assert response.headers.get("Cache-Control") == "no-store", (what, response.status_code,
                                                                 response.headers.get("Cache-Control"))
    for name in VALIDATORS:
        assert name not in response.headers, (what, name)
    assert "X-Powered-By" not in response.headers, what


@pytest.mark.parametrize("username", ["admin", "clerk", "manager", "archivist", "visitor", "reviewer"])
def test_every_page_and_download_route_answers_no_store_whatever_its_status(app, username):
    user = login_as(app, username)
    rules = _get_rules(app)
    assert len(rules) > 80  # the walk covers the whole URL map, not a handful
    for rule in rules:
        url = _url_for_rule(rule)
        response = user.client.get(url)
        assert_not_stored(response, url)


def test_anonymous_answers_are_not_stored_either(client):
    for url in ("/auth/login", "/", "/customers/", "/health"):
        assert_not_stored(client.get(url), url)


def test_static_files_may_stay_cacheable(client):
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"


def test_the_customer_export_sent_with_send_file_is_not_stored(app, exportable):  # noqa: F811
    response = login_as(app, "manager").get("/customers/export.xlsx", query_string={"risk": "C4"})
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")
    assert_not_stored(response, "export")
    # Asked again as a browser would revalidate: the whole file again, never a 304 from a cache validator.
    again = login_as(app, "manager").get("/customers/export.xlsx", query_string={"risk": "C4"},
                                         headers={"If-Modified-Since": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert again.status_code == 200


def test_a_call_recording_download_is_not_stored(app, file_store):  # noqa: F811
    reference = awaiting_visit(app)
    agent = login_as(app, "visitor")
    assert post_visit(agent, reference, recording=("回访录音.wav", wav_bytes())).status_code == 303
    [visit] = visits(app, reference)
    for username in ("visitor", "manager"):
        response = login_as(app, username).get(f"{visit_url(reference)}/recording/{visit['id']}")
        assert response.status_code == 200
        assert_not_stored(response, username)


# --- the Server header under the real servers ------------------------------------------------------

def _server_headers(port: int, path: str = "/health") -> tuple[int, list[str], list[str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.msg.get_all("Server") or [], response.msg.get_all("X-Powered-By") or []
    finally:
        connection.close()


def test_the_development_server_names_no_software_in_its_server_header(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/health", "/auth/login", "/no-such-page"):
            status, servers, powered = _server_headers(server.server_port, path)
            assert status in (200, 302, 404)
            assert servers == [GENERIC_SERVER], (path, servers)
            assert powered == []
    finally:
        server.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_names_no_software_in_its_server_header_and_logs_no_query_string(app, tmp_path):
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="test-secret",
               DATA_KEY="test-data-key", APP_MODE="production", HOST="127.0.0.1", PORT=str(port),
               REQUIRE_DURABLE_DATABASE="0",
               WEB_CONCURRENCY="1", ACCESS_LOG=str(access_log), SCHEDULE_ENABLED="0")
    gunicorn = Path(os.sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "app:create_app()"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            try:
                status, servers, powered = _server_headers(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.3)
        assert status == 200
        assert servers == [GENERIC_SERVER]
        assert powered == []
        for path in ("/auth/login", "/no-such-page", "/customers/?q=13812348000"):
            _status, servers, _powered = _server_headers(port, path)
            assert servers == [GENERIC_SERVER], (path, servers)
        deadline = time.monotonic() + 10
        while "/customers/" not in (access_log.read_text() if access_log.exists() else ""):
            assert time.monotonic() < deadline, "no access log line"
            time.sleep(0.2)
        logged = access_log.read_text()
        assert '"GET /customers/ HTTP/1.1"' in logged and "13812348000" not in logged and "?" not in logged
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
