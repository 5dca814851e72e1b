"""Authentication: password check, throttling by account and by source, same-terminal review; ending sessions."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_app_context, has_request_context, request
from werkzeug.security import check_password_hash, generate_password_hash

from blueprints.auth import sessions, throttle
from blueprints.auth.models import Staff
from blueprints.auth.rules import wait_in_words
from core import audit, timeutil
from core.db import keep_refusal
from core.extensions import db

# One message for an unknown user and a wrong password, so logins reveal no usernames.
BAD_CREDENTIALS = "用户名或密码错误"
# What a same-terminal review (同机复核) records as its purpose unless it names its own.
SAME_TERMINAL_REVIEW = "same_terminal_review"
# Checked against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")


def hash_password(password: str, method: str | None = None) -> str:
    """Hash with scrypt (memory-hard KDF) and a random salt.

    The test suite sets PASSWORD_HASH_METHOD to a cheap method: a scrypt check costs 0.3 s,
    and the tests log in thousands of times. Checking reads the method from the stored hash.
    """
    if method is None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


@dataclass(frozen=True)
class LoginResult:
    staff: Staff | None
    error: str | None = None
    status: int = 200  # what the refusal answers with: 422 (checked and wrong), 429 (not checked: wait)
    retry_after: int | None = None  # seconds until the next attempt is taken
    notice: str | None = None  # for the owner, at login: failed attempts since their last login


def authenticate(username: str, password: str, now: datetime | None = None, purpose: str = "login") -> LoginResult:
    """Check credentials, throttled per typed username and per source address with growing waits.

    An attempt while either waits is refused (429) without checking the password. A throttle never ends
    anybody's session: a stranger can delay a login, not take a working session away. The password is
    checked before the account's state is told, so only someone who knows it learns that an account is
    disabled. A refusal is kept (counts, audit rows) although the request answers 4xx.
    """
    result = _authenticate(username, password, now or timeutil.utcnow(), purpose)
    if result.staff is None:
        keep_refusal()
    return result


def _authenticate(username: str, password: str, now: datetime, purpose: str) -> LoginResult:
    typed = username.strip()
    keys = throttle.keys_for(typed, request.remote_addr if has_request_context() else None)
    staff = db.session.scalar(db.select(Staff).filter_by(username=typed))
    # Only a hint of what was typed: a password typed into the username field must not be logged.
    who = {"actor": staff} if staff else {"actor_name": "(unknown)", "typed": username[:1] + "***"}
    refusing = throttle.blocked(keys, now)
    if refusing:
        scope, until = refusing
        wait = _seconds_until(until, now)
        audit.record("auth.throttled", **who, scope=scope, retry_after=wait, purpose=purpose)
        return LoginResult(None, f"尝试次数过多，请在 {wait_in_words(wait)}后重试（{_bj_time(until)}）", 429, wait)
    if staff is None:
        check_password_hash(_DUMMY_HASH, password)
        audit.record("auth.login_failed", **who, reason="unknown_user", purpose=purpose)
        return _failed(keys, who, now, purpose)
    if not check_password_hash(staff.password_hash, password):
        staff.failed_logins += 1
        staff.last_failed_login_at = now
        audit.record("auth.login_failed", actor=staff, reason="bad_password", purpose=purpose)
        return _failed(keys, who, now, purpose)
    if not staff.is_enabled:
        audit.record("auth.login_failed", actor=staff, reason="disabled", purpose=purpose)
        return LoginResult(None, "该用户已停用，请联系总部管理员", 422)
    throttle.forget_account(keys)
    if purpose != "login":
        audit.record("auth.verify", actor=staff, purpose=purpose)
        return LoginResult(staff)
    notice = _failures_notice(staff)
    staff.failed_logins = 0
    staff.last_login_at = now
    audit.record("auth.login", actor=staff)
    return LoginResult(staff, notice=notice)


def _failed(keys: dict, who: dict, now: datetime, purpose: str) -> LoginResult:
    blocks = throttle.count_failure(keys, now)
    if not blocks:
        return LoginResult(None, BAD_CREDENTIALS, 422)
    until = max(blocks.values())
    wait = _seconds_until(until, now)
    for scope, scope_until in blocks.items():
        audit.record("auth.locked", **who, scope=scope, seconds=_seconds_until(scope_until, now), purpose=purpose)
    return LoginResult(None, f"{BAD_CREDENTIALS}。尝试次数过多，请在 {wait_in_words(wait)}后重试", 422, wait)


def _failures_notice(staff: Staff) -> str | None:
    """What the owner is told at login about wrong passwords typed for their account meanwhile (audited)."""
    if not staff.failed_logins:
        return None
    audit.record("auth.failures_told", actor=staff, failures=staff.failed_logins,
                 last_failed_at=staff.last_failed_login_at.isoformat(timespec="seconds")
                 if staff.last_failed_login_at else None)
    when = f"，最近一次在 {_bj_time(staff.last_failed_login_at)}" if staff.last_failed_login_at else ""
    return (f"自您上次登录以来，您的账户有 {staff.failed_logins} 次密码错误的尝试{when}。"
            "如非本人操作，请立即修改密码并联系总部管理员。")


def _seconds_until(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


def _bj_time(moment: datetime) -> str:
    return timeutil.to_beijing(moment).strftime("%Y-%m-%d %H:%M:%S")


def verify_credentials(username: str, password: str, purpose: str = SAME_TERMINAL_REVIEW) -> LoginResult:
    """Check another person's credentials for one action (同机复核), with the same throttle.

    It is not a login: the session stays its owner's, and the trail says what it was for.
    """
    return authenticate(username, password, purpose=purpose)


@dataclass(frozen=True)
class TerminalReview:
    """What came of a same-terminal review: `status` is None once decided, else the status to answer with
    the form again; `refusal` is a refusal to show on the page rather than next to a field."""

    reviewer: Staff | None = None
    status: int | None = None
    refusal: Exception | None = None

    @property
    def refused(self) -> str | None:
        return None if self.refusal is None else str(self.refusal)


def review_on_terminal(form, decide: Callable[[Staff], object], refusals: type[Exception] | tuple,
                       purpose: str = SAME_TERMINAL_REVIEW,
                       status_of: Callable[[Exception, Staff], int] | None = None) -> TerminalReview:
    """Take a decision with the reviewer's own credentials, typed into `form` on the maker's terminal (同机复核).

    `form` is a validated core.forms.ReviewerCredentialsForm. Credentials that do not pass answer 422, the
    reason next to the password. Then `decide(reviewer)`: a refusal it raises (one of `refusals`) answers
    with `status_of(refusal, reviewer)`, else the refusal's own `status`; a 403 (this person may not decide)
    goes next to the username they typed.
    """
    login = verify_credentials(form.reviewer_username.data, form.reviewer_password.data, purpose=purpose)
    if login.staff is None:
        form.reviewer_password.errors.append(login.error)
        return TerminalReview(status=login.status)
    try:
        decide(login.staff)
    except refusals as refusal:
        status = status_of(refusal, login.staff) if status_of else refusal.status
        if status == 403:
            form.reviewer_username.errors.append(str(refusal))
            return TerminalReview(login.staff, 403)
        return TerminalReview(login.staff, status, refusal)
    return TerminalReview(login.staff)


def load_staff(user_id: str) -> Staff | None:
    """Load the session's staff member: only the one its server-side row was opened for."""
    try:
        staff_id = int(user_id)
    except ValueError:
        return None
    if sessions.current_staff_id() != staff_id:
        return None
    return db.session.get(Staff, staff_id)


def end_sessions(staff: Staff, reason: str) -> None:
    """End every live session of `staff` at once (logout everywhere, disabling, role or password change).

    Their cookies open nothing from the next request on, wherever they are; if this request is one of
    them, its browser leaves as an anonymous visitor (keeping the flashes set so far).
    """
    ended = sessions.end_all_of(staff.id, reason)
    audit.record("auth.sessions_ended", "staff", staff.id, reason=reason, sessions=ended)


def full_names(ids) -> dict[int, str]:
    """Staff ids to their full names, in one query; None and 0 among `ids` are skipped."""
    from sqlalchemy import select

    from core.extensions import db

    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(ids))).all())
