"""Server-side sessions and the login throttle: what a copied cookie opens, timeouts, waits, the owner's notice."""
from datetime import timedelta

import re

import pytest
from sqlalchemy import func, select, text

from blueprints.auth.models import LoginThrottle, Staff, StaffSession
from blueprints.auth.rules import ACCOUNT, SOURCE
from blueprints.auth.sessions import ANONYMOUS_PREFIX, TOKEN
from blueprints.home.demo import DEMO_PASSWORD
from blueprints.opening.models import Application
from core import timeutil
from core.extensions import db
from core.models import AuditEvent
from tests.conftest import Auth, csrf_token_from
from tests.requests.helpers import login_as, page_of, staff_id

LOGIN = "/auth/login"
COOKIE = "session"
SEEDED_NO = "C0101000001"


class Clock:
    """Moves the app's clock (core.timeutil.utcnow) ahead of the real one."""

    def __init__(self, monkeypatch):
        self.offset = timedelta(0)
        real = timeutil.utcnow
        monkeypatch.setattr(timeutil, "utcnow", lambda: real() + self.offset)

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def cookie_of(auth_or_client) -> str | None:
    client = getattr(auth_or_client, "client", auth_or_client)
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def copy_cookie(app, value: str):
    """A second browser holding a copy of the session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, value)
    return thief


def is_login_redirect(response) -> bool:
    return response.status_code in (302, 303) and response.headers["Location"].split("?")[0].endswith(LOGIN)


def drafts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Application))


def audit_of(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def login_from(app, username, password=DEMO_PASSWORD, address="127.0.0.1", client=None):
    """A login attempt from a browser at `address`; the response."""
    client = client or app.test_client()
    environ = {"REMOTE_ADDR": address}
    token = csrf_token_from(client.get(LOGIN, environ_base=environ).get_data(as_text=True))
    return client.post(LOGIN, data={"username": username, "password": password, "csrf_token": token},
                       environ_base=environ)


def new_draft(auth, token="t-1"):
    return auth.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": token})


# --- a copied cookie ------------------------------------------------------------------------------

def test_a_copied_cookie_opens_nothing_after_logout_for_reads_or_writes(app, auth):
    auth.login("clerk")
    stolen = cookie_of(auth)
    thief = Auth(copy_cookie(app, stolen))
    thief.token = auth.token
    assert thief.get("/opening/").status_code == 200  # the copy works while the session lives

    assert auth.post("/auth/logout").status_code == 303
    assert is_login_redirect(thief.get("/opening/"))
    assert is_login_redirect(thief.get(f"/archive/?customer_no={SEEDED_NO}"))
    refused = new_draft(thief)
    assert refused.status_code in (302, 303, 401) and drafts(app) == 0
    # Replaying it does not bring it back.
    for _ in range(3):
        assert is_login_redirect(thief.get("/"))
    with app.app_context():
        [row] = db.session.execute(select(StaffSession.ended_at, StaffSession.end_reason)).all()
    assert row.ended_at is not None and row.end_reason == "logout"


def test_end_sessions_ends_every_live_session_of_that_staff_member_at_once(app):
    from blueprints.auth.services import end_sessions

    counter, tablet, colleague = login_as(app, "clerk"), login_as(app, "clerk"), login_as(app, "reviewer")
    with app.test_request_context(method="POST"):
        end_sessions(db.session.get(Staff, staff_id(app, "clerk")), "password_changed")
        db.session.commit()
    for browser in (counter, tablet):
        response = browser.get("/opening/")
        assert is_login_redirect(response)
        assert new_draft(browser).status_code in (302, 303, 401)
    assert drafts(app) == 0
    assert colleague.get("/review/").status_code == 200
    [event] = audit_of(app, "auth.sessions_ended")
    assert event.detail == {"reason": "password_changed", "sessions": 2}
    with app.app_context():
        reasons = dict(db.session.execute(select(StaffSession.staff_id, StaffSession.end_reason)
                                          .where(StaffSession.staff_id == staff_id(app, "clerk"))).all())
    assert set(reasons.values()) == {"password_changed"}


def test_a_session_ended_on_the_server_tells_its_browser_on_the_login_page(app):
    from blueprints.auth.services import end_sessions

    clerk = login_as(app, "clerk")
    with app.test_request_context(method="POST"):
        end_sessions(db.session.get(Staff, staff_id(app, "clerk")), "disabled")
        db.session.commit()
    response = clerk.get("/opening/")
    assert is_login_redirect(response)
    assert "登录已在服务器端结束" in clerk.client.get(response.headers["Location"]).get_data(as_text=True)


# --- timeouts -----------------------------------------------------------------------------------

def test_after_the_idle_timeout_the_cookie_opens_nothing_even_with_the_clock_back(app, auth, clock):
    auth.login("clerk")
    stolen = cookie_of(auth)
    clock.advance(app.config["IDLE_TIMEOUT"] + timedelta(seconds=5))
    response = auth.get("/opening/")
    assert is_login_redirect(response)
    assert "长时间未操作，会话已过期" in auth.client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(StaffSession.end_reason)) == "idle"
    [expired] = audit_of(app, "auth.session_expired")
    assert expired.actor_id == staff_id(app, "clerk") and expired.detail == {"reason": "idle"}
    # Ended on the server, not only by the clock.
    clock.advance(-app.config["IDLE_TIMEOUT"] - timedelta(seconds=5))
    assert is_login_redirect(copy_cookie(app, stolen).get("/opening/"))


def test_a_busy_session_ends_at_the_absolute_timeout(app, auth, clock):
    auth.login("clerk")
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    steps = int(timedelta(hours=hours) / timedelta(minutes=15))
    for _ in range(steps - 1):
        clock.advance(timedelta(minutes=15))
        assert auth.get("/opening/").status_code == 200
    clock.advance(timedelta(minutes=15))
    response = auth.get("/opening/")
    assert is_login_redirect(response)
    assert f"登录已超过{hours}小时" in auth.client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(StaffSession.end_reason)) == "absolute"


def test_an_htmx_save_after_the_idle_timeout_gets_401_and_the_message_waits_on_the_login_page(app, auth, clock):
    auth.login("clerk")
    clock.advance(app.config["IDLE_TIMEOUT"] + timedelta(minutes=1))
    response = auth.post("/opening/new", {"channel": "onsite"}, htmx=True)
    assert response.status_code == 401 and "X-Login-Url" in response.headers
    assert "会话已过期" in auth.client.get(LOGIN).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(StaffSession.end_reason)) == "idle"


# --- what the cookie holds ----------------------------------------------------------------------

def test_the_cookie_holds_only_a_random_id_and_the_data_is_encrypted_on_the_server(app):
    archivist = login_as(app, "archivist")
    purpose = "法院协助查询（2026）京0105协执12号"
    assert archivist.post(f"/archive/customers/{SEEDED_NO}", {"purpose": "other", "detail": purpose}).status_code == 303
    assert archivist.get(f"/archive/customers/{SEEDED_NO}").status_code == 200
    value = cookie_of(archivist)
    assert TOKEN.fullmatch(value)
    raw = archivist.client.get_cookie(COOKIE)
    for secret in (purpose, "法院", SEEDED_NO, "archivist", "archive_purpose", "_user_id"):
        assert secret not in value and secret not in str(raw.__dict__)
    assert raw.http_only and raw.same_site == "Lax" and raw.expires is None
    with app.app_context():
        stored = db.session.execute(text("SELECT token_hash, data FROM staff_session")).one()
    assert value not in stored.token_hash and len(stored.token_hash) == 64
    assert "法院" not in stored.data and "archive_purpose" not in stored.data and SEEDED_NO not in stored.data


def test_the_cookie_is_marked_secure_when_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    client = app.test_client()
    response = login_from(app, "clerk", client=client)
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]


def test_an_anonymous_visitor_gets_an_encrypted_short_lived_cookie_and_no_row(app, clock):
    client = app.test_client()
    for _ in range(5):
        html = app.test_client().get(LOGIN).get_data(as_text=True)
    html = client.get(LOGIN).get_data(as_text=True)
    value = cookie_of(client)
    assert value.startswith(ANONYMOUS_PREFIX)
    assert "csrf" not in value and csrf_token_from(html) not in value
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0
    # Past its lifetime the cookie carries nothing: the old form's token is refused.
    token = csrf_token_from(html)
    clock.advance(app.config["IDLE_TIMEOUT"] + timedelta(minutes=1))
    response = client.post(LOGIN, data={"username": "clerk", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 400


def test_the_session_id_changes_at_login(app):
    client = app.test_client()
    client.get(LOGIN)
    anonymous = cookie_of(client)
    assert login_from(app, "clerk", client=client).status_code == 303
    first = cookie_of(client)
    assert first != anonymous and TOKEN.fullmatch(first)
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/auth/logout", headers={"X-CSRFToken": token})
    assert login_from(app, "clerk", client=client).status_code == 303
    assert cookie_of(client) not in (first, anonymous)
    with app.app_context():
        rows = db.session.execute(select(StaffSession.ended_at).order_by(StaffSession.id)).all()
    assert [row.ended_at is None for row in rows] == [False, True]


def test_a_cookie_planted_before_login_is_worth_nothing_after_it(app):
    attacker = app.test_client()
    attacker.get(LOGIN)
    planted = cookie_of(attacker)
    victim = app.test_client()
    victim.set_cookie(COOKIE, planted)
    assert login_from(app, "clerk", client=victim).status_code == 303
    assert cookie_of(victim) != planted
    assert is_login_redirect(attacker.get("/"))
    assert is_login_redirect(copy_cookie(app, planted).get("/"))


# --- throttling -----------------------------------------------------------------------------------

def test_failures_of_an_account_make_growing_waits(app, clock):
    waits = []
    for failure in range(1, ACCOUNT.free + 4):
        response = login_from(app, "clerk", f"wrong-{failure}")
        assert response.status_code == 422
        waits.append(int(response.headers.get("Retry-After", 0)))
        if waits[-1]:
            assert login_from(app, "clerk").status_code == 429  # even the right password waits
            clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [0] * (ACCOUNT.free - 1) + [2, 4, 8, 16]
    assert login_from(app, "clerk").status_code == 303


def test_failures_count_across_browsers_and_processes_for_one_account(app):
    first, second = app.test_client(), app.test_client()
    for attempt in range(ACCOUNT.free - 1):
        assert login_from(app, "reviewer", f"x{attempt}", client=first).status_code == 422
    response = login_from(app, "reviewer", "x-last", client=second, address="10.9.9.9")
    assert response.status_code == 422 and response.headers["Retry-After"] == "2"
    assert login_from(app, "reviewer", client=first).status_code == 429
    with app.app_context():
        rows = list(db.session.scalars(select(LoginThrottle)))
    # Keyed hashes: neither the username nor an address is stored.
    assert {r.scope for r in rows} == {"account", "source"}
    assert not [r for r in rows if "reviewer" in r.key or "10.9.9.9" in r.key or "127.0.0.1" in r.key]


def test_an_unknown_username_is_throttled_like_a_known_one(app):
    answers = {}
    for username in ("clerk", "nobody-here"):
        answers[username] = [login_from(app, username, f"bad-{n}", address=f"10.0.0.{len(answers) + 1}")
                             for n in range(ACCOUNT.free + 1)]
    assert [r.status_code for r in answers["clerk"]] == [r.status_code for r in answers["nobody-here"]]
    def messages(responses):  # the retry time shown may differ by the second between the two
        return [re.sub(r"（[0-9:\- ]+）", "", m) for r in responses for m in page_of(r).errors_for("password")]

    assert messages(answers["clerk"]) == messages(answers["nobody-here"])


def test_failures_from_one_source_address_throttle_it_for_every_account(app, clock):
    address = "10.1.2.3"
    for n in range(SOURCE.free):
        assert login_from(app, f"guess{n}", "whatever", address=address).status_code == 422
    refused = login_from(app, "clerk", address=address)
    assert refused.status_code == 429 and "尝试次数过多" in page_of(refused).errors_for("password")[0]
    assert login_from(app, "clerk", address="10.1.2.4").status_code == 303  # another terminal is not held up
    [throttled] = audit_of(app, "auth.throttled")
    assert throttled.ip == address and throttled.detail["scope"] == "source"
    clock.advance(timedelta(seconds=int(refused.headers["Retry-After"])))
    assert login_from(app, "clerk", address=address).status_code == 303


def test_a_successful_login_resets_the_accounts_count_but_not_the_sources(app):
    for n in range(ACCOUNT.free - 1):
        login_from(app, "clerk", f"bad-{n}")
    assert login_from(app, "clerk").status_code == 303
    assert login_from(app, "clerk", "bad-again").headers.get("Retry-After") is None
    with app.app_context():
        source = db.session.scalar(select(LoginThrottle.failures).where(LoginThrottle.scope == "source"))
    assert source == ACCOUNT.free


def test_no_wait_is_longer_than_the_cap_and_the_owner_is_never_logged_out(app, auth, clock):
    auth.login("clerk")
    for n in range(30):
        response = login_from(app, "clerk", f"bad-{n}", address=f"10.2.{n}.1")
        assert response.status_code == 422
        assert int(response.headers.get("Retry-After", 0)) <= 15 * 60
        clock.advance(timedelta(seconds=int(response.headers.get("Retry-After", 0))))
        assert auth.get("/opening/").status_code == 200
    assert response.headers["Retry-After"] == str(15 * 60)
    assert auth.get("/opening/").status_code == 200
    assert new_draft(auth).status_code == 303


def test_every_failure_throttle_and_lock_is_audited_with_the_source(app):
    address = "10.3.3.3"
    for n in range(ACCOUNT.free):
        login_from(app, "clerk", f"bad-{n}", address=address)
    login_from(app, "clerk", address=address)
    failed, locked, throttled = (audit_of(app, a) for a in ("auth.login_failed", "auth.locked", "auth.throttled"))
    assert len(failed) == ACCOUNT.free and len(locked) == 1 and len(throttled) == 1
    assert {e.ip for e in failed + locked + throttled} == {address}
    assert {e.actor_id for e in failed + locked + throttled} == {staff_id(app, "clerk")}
    assert throttled[0].detail["scope"] == "account" and throttled[0].detail["retry_after"] in (1, 2)
    assert not [e for e in failed + locked + throttled if DEMO_PASSWORD in str(e.detail) or "bad-" in str(e.detail)]


# --- the owner is told ----------------------------------------------------------------------------

def test_the_owner_is_told_of_failed_attempts_since_their_last_login(app, clock):
    for n in range(2):
        login_from(app, "reviewer", f"bad-{n}", address="10.4.4.4")
    owner = app.test_client()
    assert login_from(app, "reviewer", client=owner).status_code == 303
    home = owner.get("/").get_data(as_text=True)
    assert "自您上次登录以来，您的账户有 2 次密码错误的尝试" in home and "最近一次在" in home
    [told] = audit_of(app, "auth.failures_told")
    assert told.actor_id == staff_id(app, "reviewer") and told.detail["failures"] == 2
    # Told once: the next login says nothing.
    again = app.test_client()
    assert login_from(app, "reviewer", client=again).status_code == 303
    assert "密码错误的尝试" not in again.get("/").get_data(as_text=True)
    assert len(audit_of(app, "auth.failures_told")) == 1
