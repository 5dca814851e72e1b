"""Server-side sessions: the cookie carries a random id, everything else lives in staff_session, encrypted.

A logged-in browser's cookie is 43 random characters; the table keeps only their SHA-256, the staff
member, the times, and the session's data (flask-login's keys, the CSRF token, flashes, archive purposes,
pending uploads) encrypted with the data key. Ending a session on the server (logout, end_sessions, an
idle or absolute timeout) makes its cookie open nothing, for reads and writes alike.

A visitor who has not logged in (the login page's CSRF token, the "已安全退出" banner) gets no row: their
few values ride in the cookie itself, encrypted and short-lived (ANONYMOUS_PREFIX), so anonymous requests
cannot fill the table. Logging in always starts a new row with a new id (no session fixation).
"""
import hashlib
import re
import secrets
from base64 import urlsafe_b64encode
from datetime import timedelta, timezone

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_request_context, request, session
from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import CallbackDict

from blueprints.auth import rules
from blueprints.auth.models import StaffSession
from core import timeutil
from core.db import begin_writing, database_unavailable
from core.extensions import db

ANONYMOUS_PREFIX = "a."
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# last_seen_at is written at most this often when nothing else changed (not on every htmx poll).
TOUCH_EVERY = timedelta(seconds=30)
# Rows of sessions not seen for this long (ended or lapsed long ago) are deleted at a later login.
RECORDS_KEPT = timedelta(days=90)
# What a staff member reads on the login page after their session ended without them logging out.
LAPSE_MESSAGES = {
    "idle": "长时间未操作，会话已过期，请重新登录",
    "absolute": "登录已超过{hours}小时，为保护客户信息，请重新登录",
    "ended": "您的登录已在服务器端结束（退出登录、修改密码、岗位变动或管理员操作），请重新登录",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """The request's session: a dict, plus which staff_session row (if any) it is."""

    def __init__(self, initial=None, record_id: int | None = None, staff_id: int | None = None,
                 token: str | None = None, seen_at=None, had_cookie: bool = False, lapsed: str | None = None,
                 lapsed_record_id: int | None = None, skip: bool = False, unavailable: Exception | None = None):
        def on_update(self_):
            self_.modified = True

        super().__init__(initial, on_update)
        self.modified = False
        self.record_id = record_id
        self.staff_id = staff_id
        self.token = token
        self.seen_at = seen_at
        self.issued = False  # a new id to send to the browser
        self.had_cookie = had_cookie
        self.lapsed = lapsed  # the cookie named a session that may no longer be used: why
        self.lapsed_record_id = lapsed_record_id
        self.skip = skip  # static files: neither read nor written
        self.unavailable = unavailable  # the database could not be asked for the session: why

    def begin(self, record: StaffSession, token: str) -> None:
        """Become the new row's session, dropping whatever the visitor carried before logging in."""
        self.clear()
        self.record_id, self.staff_id, self.token, self.seen_at = record.id, record.staff_id, token, record.last_seen_at
        self.issued = True
        self.modified = True

    def drop(self, keep_flashes: bool = False) -> None:
        """Become an anonymous visitor's session (the row was ended); flashes may go along."""
        flashes = self.get("_flashes") if keep_flashes else None
        self.clear()
        self.record_id = self.staff_id = self.token = None
        if flashes:
            self["_flashes"] = flashes
        self.modified = True


class ServerSessionInterface(SessionInterface):
    """Flask's session kept in staff_session, the cookie naming it by a random id."""

    serializer = session_json_serializer

    def open_session(self, app, request):
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            return ServerSession(skip=True)
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return ServerSession()
        if value.startswith(ANONYMOUS_PREFIX):
            return ServerSession(self._read_anonymous(app, value[len(ANONYMOUS_PREFIX):]), had_cookie=True)
        if not TOKEN.fullmatch(value):
            return ServerSession(had_cookie=True)
        try:
            row = db.session.execute(select(
                StaffSession.id, StaffSession.staff_id, StaffSession.created_at, StaffSession.last_seen_at,
                StaffSession.ended_at, StaffSession.data).where(StaffSession.token_hash == token_hash(value))).first()
        except DBAPIError as error:
            if not database_unavailable(error):
                raise
            # Outside Flask's error handlers here: the request's first hook answers 503 (app.py), and
            # the session, neither read nor known, is left as it is.
            return ServerSession(had_cookie=True, skip=True, unavailable=error)
        if row is None:
            return ServerSession(had_cookie=True)
        if row.ended_at is not None:
            return ServerSession(had_cookie=True, lapsed="ended")
        lapse = rules.lapse_of(row.created_at, row.last_seen_at, timeutil.utcnow(), app.config["IDLE_TIMEOUT"],
                               absolute_timeout(app))
        if lapse:
            return ServerSession(had_cookie=True, lapsed=lapse, lapsed_record_id=row.id)
        data = self.serializer.loads(row.data) if row.data else {}
        return ServerSession(data, record_id=row.id, staff_id=row.staff_id, token=value, seen_at=row.last_seen_at,
                             had_cookie=True)

    def save_session(self, app, session, response):
        if session.skip:
            return
        name = self.get_cookie_name(app)
        cookie = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                  "secure": self.get_cookie_secure(app), "httponly": self.get_cookie_httponly(app),
                  "samesite": self.get_cookie_samesite(app)}
        if session.record_id is not None:
            self._write_row(session)
            if session.issued:
                # No Expires: the cookie goes when the browser closes; the server decides how long it lives.
                response.set_cookie(name, session.token, **cookie)
            response.vary.add("Cookie")
            return
        if not session:
            if session.had_cookie:
                response.delete_cookie(name, domain=cookie["domain"], path=cookie["path"], secure=cookie["secure"],
                                       httponly=cookie["httponly"], samesite=cookie["samesite"])
            return
        if session.modified:
            response.set_cookie(name, ANONYMOUS_PREFIX + self._write_anonymous(app, dict(session)), **cookie)

    # --- the row ---------------------------------------------------------------------------------
    def _write_row(self, session: ServerSession) -> None:
        now = timeutil.utcnow()
        values = {}
        if session.modified or session.issued:
            values["data"] = self.serializer.dumps(dict(session))
        if session.seen_at is None or now - session.seen_at >= TOUCH_EVERY or values:
            values["last_seen_at"] = now
        if not values:
            return
        # After the request's own commit: a transaction of its own, which takes the write lock up front.
        begin_writing()
        with db.engine.begin() as connection:
            # Never brings back a session ended meanwhile (a logout in another tab, end_sessions).
            connection.execute(update(StaffSession.__table__)
                               .where(StaffSession.id == session.record_id, StaffSession.ended_at.is_(None))
                               .values(**values))

    # --- the anonymous cookie ----------------------------------------------------------------------
    @staticmethod
    def _fernet(app) -> Fernet:
        key = app.extensions["keyring"].derived_key(b"anonymous-session-cookie")
        return Fernet(urlsafe_b64encode(key))

    def _read_anonymous(self, app, value: str) -> dict:
        try:
            raw = self._fernet(app).decrypt_at_time(value.encode(), int(anonymous_lifetime(app).total_seconds()),
                                                    _clock_seconds())
        except (InvalidToken, ValueError):
            return {}
        data = self.serializer.loads(raw.decode())
        return data if isinstance(data, dict) else {}

    def _write_anonymous(self, app, data: dict) -> str:
        return self._fernet(app).encrypt_at_time(self.serializer.dumps(data).encode(), _clock_seconds()).decode()


def _clock_seconds() -> int:
    return int(timeutil.utcnow().replace(tzinfo=timezone.utc).timestamp())


def absolute_timeout(app=None) -> timedelta:
    return timedelta(hours=(app or current_app).config["SESSION_ABSOLUTE_HOURS"])


def anonymous_lifetime(app=None) -> timedelta:
    return (app or current_app).config["IDLE_TIMEOUT"]


def lapse_message(reason: str) -> str | None:
    message = LAPSE_MESSAGES.get(reason)
    return message and message.format(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def _user_agent_summary() -> str | None:
    agent = request.user_agent
    browser = agent.browser or ""
    platform = agent.platform or ""
    summary = " / ".join(part for part in (browser.title(), platform.title()) if part)
    return summary[:64] or None


def start(staff) -> StaffSession:
    """Open a new server-side session for `staff`, ending the one this browser had (a new id at login)."""
    now = timeutil.utcnow()
    current = session.record_id or session.lapsed_record_id
    if current:
        _end_rows(StaffSession.id == current, "replaced", now)
    token = secrets.token_urlsafe(32)
    record = StaffSession(token_hash=token_hash(token), staff_id=staff.id, created_at=now, last_seen_at=now,
                          ip=request.remote_addr, user_agent=_user_agent_summary())
    db.session.add(record)
    purge_old(RECORDS_KEPT)
    db.session.flush()
    session.begin(record, token)
    return record


def end_current(reason: str) -> None:
    """End this browser's session on the server (logout); the browser becomes an anonymous visitor."""
    if session.record_id:
        _end_rows(StaffSession.id == session.record_id, reason, timeutil.utcnow())
    session.drop()


def end_all_of(staff_id: int, reason: str) -> int:
    """End every session of a staff member still open on the server; how many. This browser's too, if theirs."""
    # Every row not yet ended, lapsed ones too: a longer timeout configured later must not revive them.
    ended = _end_rows(StaffSession.staff_id == staff_id, reason, timeutil.utcnow())
    if has_request_context() and getattr(session, "staff_id", None) == staff_id:
        session.drop(keep_flashes=True)
    return ended


def end_lapsed(reason: str) -> int | None:
    """Record that the session this browser named lapsed (idle, absolute); the staff member's id."""
    record_id = session.lapsed_record_id
    if record_id is None:
        return None
    begin_writing()
    staff_id = db.session.scalar(select(StaffSession.staff_id).where(StaffSession.id == record_id))
    _end_rows(StaffSession.id == record_id, reason, timeutil.utcnow())
    session.lapsed_record_id = None
    return staff_id


def _end_rows(condition, reason: str, now) -> int:
    result = db.session.execute(update(StaffSession).where(condition, StaffSession.ended_at.is_(None))
                                .values(ended_at=now, end_reason=reason).execution_options(synchronize_session=False))
    return result.rowcount


def live_sessions(staff_id: int) -> list[StaffSession]:
    """A staff member's sessions that still open something, newest first."""
    now = timeutil.utcnow()
    return list(db.session.scalars(
        select(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None),
                                   StaffSession.created_at > now - absolute_timeout(),
                                   StaffSession.last_seen_at >= now - current_app.config["IDLE_TIMEOUT"])
        .order_by(StaffSession.created_at.desc())))


def purge_old(keep: timedelta) -> int:
    """Delete session rows not seen for `keep` (ended or lapsed long ago)."""
    result = db.session.execute(StaffSession.__table__.delete().where(
        StaffSession.last_seen_at < timeutil.utcnow() - keep))
    return result.rowcount



def current_staff_id() -> int | None:
    """The staff member this request's server-side session was opened for, or None."""
    return getattr(session, "staff_id", None) if has_request_context() else None
