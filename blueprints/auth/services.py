"""Authentication: password check, failure counting and lockout; same-terminal review."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from blueprints.auth.models import Staff
from core import audit
from core.db import keep_refusal
from core.extensions import db
from core.timeutil import utcnow

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# One message for an unknown user and a wrong password, so logins reveal no usernames.
BAD_CREDENTIALS = f"用户名或密码错误（连续{MAX_FAILED_LOGINS}次错误将锁定账户{int(LOCKOUT.total_seconds() // 60)}分钟）"
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


def authenticate(username: str, password: str, now: datetime | None = None, purpose: str = "login") -> LoginResult:
    """Check credentials, counting failures and locking after MAX_FAILED_LOGINS.

    The password is checked before the account's state is told, so only someone who
    knows the password learns that an account is locked or disabled. A failure is kept
    (its count, the lock, the audit row) although the request answers 4xx.
    """
    result = _authenticate(username, password, now or utcnow(), purpose)
    if result.staff is None:
        keep_refusal()
    return result


def _authenticate(username: str, password: str, now: datetime, purpose: str) -> LoginResult:
    staff = db.session.scalar(db.select(Staff).filter_by(username=username.strip()))
    if staff is None:
        check_password_hash(_DUMMY_HASH, password)
        # Only a hint of what was typed: a password typed into the username field must not be logged.
        audit.record("auth.login_failed", actor_name="(unknown)", typed=username[:1] + "***", reason="unknown_user",
                     purpose=purpose)
        return LoginResult(None, BAD_CREDENTIALS)
    password_ok = check_password_hash(staff.password_hash, password)
    locked = staff.locked_until is not None and staff.locked_until > now
    if not staff.is_enabled or locked:
        audit.record("auth.login_failed", actor=staff, reason="disabled" if not staff.is_enabled else "locked")
        if not password_ok:
            return LoginResult(None, BAD_CREDENTIALS)
        if not staff.is_enabled:
            return LoginResult(None, "该用户已停用，请联系总部管理员")
        return LoginResult(None, f"连续登录失败次数过多，账户已锁定，请在 {_minutes_left(staff.locked_until, now)} 分钟后重试或联系管理员")
    if not password_ok:
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
            staff.session_version += 1
            audit.record("auth.locked", actor=staff)
            return LoginResult(None, f"连续 {MAX_FAILED_LOGINS} 次密码错误，账户已锁定 {int(LOCKOUT.total_seconds() // 60)} 分钟")
        audit.record("auth.login_failed", actor=staff, reason="bad_password")
        return LoginResult(None, BAD_CREDENTIALS)
    staff.failed_logins = 0
    staff.locked_until = None
    if purpose == "login":
        staff.last_login_at = now
        audit.record("auth.login", actor=staff)
    else:
        audit.record("auth.verify", actor=staff, purpose=purpose)
    return LoginResult(staff)


def verify_credentials(username: str, password: str, purpose: str = SAME_TERMINAL_REVIEW) -> LoginResult:
    """Check another person's credentials for one action (同机复核), with the same lockout.

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
        return TerminalReview(status=422)
    try:
        decide(login.staff)
    except refusals as refusal:
        status = status_of(refusal, login.staff) if status_of else refusal.status
        if status == 403:
            form.reviewer_username.errors.append(str(refusal))
            return TerminalReview(login.staff, 403)
        return TerminalReview(login.staff, status, refusal)
    return TerminalReview(login.staff)


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


def load_staff(user_id: str) -> Staff | None:
    """Load the session's staff member; a stale session version logs them out."""
    try:
        staff_id, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or staff.session_version != version:
        return None
    return staff


def end_sessions(staff: Staff, reason: str) -> None:
    """End every live session of `staff` at once (logout everywhere, disabling, role or password change)."""
    staff.session_version += 1
    audit.record("auth.sessions_ended", "staff", staff.id, reason=reason)
