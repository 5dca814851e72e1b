"""Login, throttling, logout, session expiry and the login wall, through the test client."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from blueprints.auth.models import Staff
from blueprints.auth.models import StaffSession
from blueprints.auth.rules import ACCOUNT
from blueprints.home.demo import DEMO_PASSWORD
from core.extensions import db
from core.models import AuditEvent
from tests.conftest import csrf_token_from
from tests.requests.helpers import login_as, page_of
from tests.requests.test_sessions import clock  # noqa: F401  (a fixture)

LOGIN = "/auth/login"


def _is_login_redirect(response) -> bool:
    return response.status_code in (302, 303) and response.headers["Location"].split("?")[0].endswith(LOGIN)


def _login_form_token(client) -> str:
    return csrf_token_from(client.get(LOGIN).get_data(as_text=True))


def _staff(app, username):
    with app.app_context():
        return db.session.scalar(select(Staff).where(Staff.username == username))


def _audit(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- logging in -----------------------------------------------------------------------------

def test_login_with_right_password_redirects_303_to_the_workbench(app, auth):
    response = auth.login("clerk")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = auth.get("/")
    assert home.status_code == 200
    assert "王柜员" in home.get_data(as_text=True)
    staff = _staff(app, "clerk")
    assert staff.last_login_at is not None
    assert staff.failed_logins == 0


def test_wrong_password_is_refused_with_422_and_a_message_under_the_password(app, auth):
    response = auth.login("clerk", "wrong-password")
    assert response.status_code == 422
    page = page_of(response)
    assert any("用户名或密码错误" in message for message in page.errors_for("password"))
    # The username typed stays in the form; the password is never echoed back.
    assert page.value("username") == "clerk"
    assert "wrong-password" not in response.get_data(as_text=True)
    assert _staff(app, "clerk").failed_logins == 1
    assert _is_login_redirect(auth.get("/"))


def test_after_three_failures_the_next_attempt_waits_and_is_refused_even_with_the_right_password(app, auth):
    for attempt in range(1, ACCOUNT.free + 1):
        response = auth.login("clerk", f"wrong-{attempt}")
        assert response.status_code == 422
    assert page_of(response).errors_for("password") == ["用户名或密码错误。尝试次数过多，请在 2 秒后重试"]

    refused = auth.login("clerk", DEMO_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in (1, 2)
    [message] = page_of(refused).errors_for("password")
    assert message.startswith("尝试次数过多，请在") and "后重试" in message
    assert page_of(refused).value("username") == "clerk"
    assert _is_login_redirect(auth.get("/"))
    assert [e.detail.get("scope") for e in _audit(app, "auth.throttled")] == ["account"]
    assert len(_audit(app, "auth.locked")) == 1


def test_unknown_user_gets_the_same_generic_message_as_a_wrong_password(app, auth):
    known = page_of(auth.login("clerk", "wrong-password")).errors_for("password")
    response = auth.login("nobody-here", "wrong-password")
    assert response.status_code == 422
    unknown = page_of(response).errors_for("password")
    assert len(unknown) == 1 and unknown[0].startswith("用户名或密码错误")
    # Whether a username exists must not show: same text for both.
    assert known == unknown


def test_disabled_user_is_refused_at_login(app, auth):
    with app.app_context():
        db.session.execute(update(Staff).where(Staff.username == "clerk").values(is_enabled=False))
        db.session.commit()
    response = auth.login("clerk", DEMO_PASSWORD)
    assert response.status_code == 422
    assert any("停用" in m for m in page_of(response).errors_for("password"))
    assert _is_login_redirect(auth.get("/"))


def test_disabling_a_user_ends_the_session_already_open(app, auth):
    assert auth.login("clerk").status_code == 303
    with app.app_context():
        db.session.execute(update(Staff).where(Staff.username == "clerk").values(is_enabled=False))
        db.session.commit()
    assert _is_login_redirect(auth.get("/opening/"))


@pytest.mark.parametrize("data, field, message", [
    ({"username": "", "password": "x"}, "username", "请输入用户名"),
    ({"username": "clerk", "password": ""}, "password", "请输入密码"),
])
def test_empty_login_fields_are_refused_with_422(client, data, field, message):
    data = dict(data, csrf_token=_login_form_token(client))
    response = client.post(LOGIN, data=data)
    assert response.status_code == 422
    assert message in page_of(response).errors_for(field)


# --- logout -----------------------------------------------------------------------------------

def test_logout_by_post_with_csrf_ends_the_session(app, auth):
    auth.login()
    response = auth.post("/auth/logout")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(LOGIN)
    assert _is_login_redirect(auth.get("/"))
    assert len(_audit(app, "auth.logout")) == 1


def test_logout_by_get_is_not_allowed(auth):
    auth.login()
    response = auth.get("/auth/logout")
    assert response.status_code == 405
    # Still logged in.
    assert auth.get("/").status_code == 200


def test_logout_without_csrf_token_is_refused_with_400(auth):
    auth.login()
    response = auth.client.post("/auth/logout")
    assert response.status_code == 400
    assert "请求已失效" in response.get_data(as_text=True)
    assert auth.get("/").status_code == 200


# --- sessions ---------------------------------------------------------------------------------

def test_idle_session_expires_and_next_request_redirects_to_login(app, auth, clock):
    auth.login()
    assert auth.get("/opening/").status_code == 200
    clock.advance(app.config["IDLE_TIMEOUT"] + timedelta(minutes=1))
    response = auth.get("/opening/")
    assert _is_login_redirect(response)
    login_page = auth.client.get(response.headers["Location"])
    assert "会话已过期" in login_page.get_data(as_text=True)
    # The session is gone for good, not only for that one request.
    assert _is_login_redirect(auth.get("/opening/"))


def test_session_within_idle_timeout_keeps_working(app, auth, clock):
    auth.login()
    clock.advance(app.config["IDLE_TIMEOUT"] - timedelta(minutes=2))
    assert auth.get("/opening/").status_code == 200


def test_a_strangers_failures_never_end_the_owners_open_session(app, auth):
    """A lock that ended the owner's session let anybody throw a colleague out by typing wrong passwords."""
    auth.login("clerk")
    assert auth.get("/opening/").status_code == 200
    attacker = app.test_client()
    for attempt in range(ACCOUNT.free + 3):
        token = _login_form_token(attacker)
        attacker.post(LOGIN, data={"username": "clerk", "password": f"guess-{attempt}", "csrf_token": token})
    assert auth.get("/opening/").status_code == 200
    assert auth.post("/opening/new", {"channel": "onsite", "customer_type": "individual",
                                      "client_token": "t-1"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(StaffSession.ended_at)) is None


def test_login_starts_a_fresh_session_dropping_planted_values(app, client):
    token = _login_form_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by-attacker"
    client.post(LOGIN, data={"username": "clerk", "password": DEMO_PASSWORD, "csrf_token": token})
    with client.session_transaction() as session:
        assert "planted" not in session


# --- redirects after login ---------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "//evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "\\\\evil.example",
    "/\t/evil.example",
])
def test_next_pointing_off_site_is_ignored(client, target):
    token = _login_form_token(client)
    response = client.post(LOGIN, query_string={"next": target},
                           data={"username": "clerk", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/"
    assert "evil" not in location


def test_next_with_a_backslash_does_not_become_a_protocol_relative_url(client):
    token = _login_form_token(client)
    response = client.post(LOGIN, query_string={"next": "/\\evil.example"},
                           data={"username": "clerk", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert not location.startswith("//") and not location.startswith("/\\")


def test_next_on_site_is_followed_after_login(client):
    first = client.get("/opening/new")
    assert _is_login_redirect(first)
    login_url = first.headers["Location"]
    assert "next=" in login_url
    token = csrf_token_from(client.get(login_url).get_data(as_text=True))
    response = client.post(login_url, data={"username": "clerk", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/opening/new")


# --- CSRF and the login wall --------------------------------------------------------------------

def test_login_post_without_csrf_token_is_refused_with_400_in_chinese(app, client):
    response = client.post(LOGIN, data={"username": "clerk", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "请求已失效" in body and "请刷新页面后重试" in body
    assert _staff(app, "clerk").last_login_at is None


def test_form_post_with_a_forged_csrf_token_is_refused_with_400(auth):
    auth.login()
    response = auth.client.post("/opening/new", data={"channel": "onsite", "customer_type": "individual",
                                                      "client_token": "t", "csrf_token": "forged"})
    assert response.status_code == 400
    assert "请求已失效" in response.get_data(as_text=True)


def _sample_url(rule) -> str:
    values = {"reference": "KH20260101000001", "key": "identity", "filename": "app.css"}
    return rule.rule.replace("<path:filename>", values["filename"]).replace(
        "<reference>", values["reference"]).replace("<key>", values["key"])


PUBLIC = {"static", "auth.login", "home.health", "health"}


def test_every_url_redirects_an_anonymous_get_to_the_login_page(app, client):
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = _sample_url(rule)
        response = client.get(url)
        assert response.status_code in (302, 303, 401), (url, response.status_code)
        if response.status_code != 401:
            assert response.headers["Location"].split("?")[0].endswith(LOGIN), url
        checked.append(rule.endpoint)
    assert {"home.index", "opening.new", "opening.step", "opening.detail", "auth.logout"} <= set(checked)


def test_every_url_refuses_an_anonymous_post(app, client):
    token = _login_form_token(client)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or "POST" not in rule.methods:
            continue
        response = client.post(_sample_url(rule), data={"csrf_token": token})
        assert response.status_code in (302, 303, 401), (rule.rule, response.status_code)


def test_health_answers_without_login(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_anonymous_htmx_request_gets_401_with_hx_redirect(client):
    response = client.get("/opening/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith(LOGIN)
    assert response.get_data(as_text=True) == ""


def test_anonymous_get_keeps_the_requested_page_as_next(client):
    response = client.get("/opening/?x=1")
    assert _is_login_redirect(response)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["next"] == ["/opening/?x=1"]


# --- audit trail ----------------------------------------------------------------------------------

def test_login_and_failed_logins_are_audited(app, auth):
    auth.login("clerk", "bad-password")
    auth.login("ghost", "whatever")
    auth.login("clerk", DEMO_PASSWORD)
    clerk = _staff(app, "clerk")

    failures = _audit(app, "auth.login_failed")
    assert [(e.actor_name, e.detail.get("reason")) for e in failures] == [
        ("clerk", "bad_password"), ("(unknown)", "unknown_user")]
    # What was typed as an unknown username may be a password: only its first character is kept.
    assert failures[1].detail["typed"] == "g***"
    assert failures[0].actor_id == clerk.id and failures[1].actor_id is None
    logins = _audit(app, "auth.login")
    assert len(logins) == 1
    assert logins[0].actor_id == clerk.id and logins[0].branch_id == clerk.branch_id
    assert logins[0].ip is not None
    # Passwords never reach the audit trail.
    for event in failures + logins:
        assert "bad-password" not in str(event.detail) and DEMO_PASSWORD not in str(event.detail)


def test_second_visit_to_login_page_while_logged_in_goes_home(auth):
    auth.login()
    response = auth.get(LOGIN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_throttled_account_is_audited_once_with_a_lock_event(app, auth):
    for attempt in range(ACCOUNT.free):
        auth.login("reviewer", f"nope-{attempt}")
    locked = _audit(app, "auth.locked")
    assert len(locked) == 1 and locked[0].actor_name == "reviewer"
    assert locked[0].detail["scope"] == "account" and locked[0].ip == "127.0.0.1"


def test_login_is_possible_after_the_wait_has_run_out(app, auth, clock):
    for attempt in range(ACCOUNT.free):
        auth.login("clerk", f"wrong-{attempt}")
    assert auth.login("clerk").status_code == 429
    clock.advance(timedelta(seconds=3))
    assert auth.login("clerk").status_code == 303


def test_a_fresh_browser_can_log_in_while_another_session_is_open(app, auth):
    auth.login("clerk")
    other = login_as(app, "clerk")
    assert other.get("/opening/").status_code == 200
    assert auth.get("/opening/").status_code == 200


def test_passwords_are_hashed_with_scrypt_outside_the_test_suite():
    from blueprints.auth.services import hash_password

    assert hash_password("Demo@2026").startswith("scrypt:")
