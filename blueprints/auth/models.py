"""Branches (营业部) and staff users."""
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.classification import C1, C2, C3
from core.crypto import EncryptedText
from core.extensions import db
from core.roles import ROLE_LABELS, Role
from core.timeutil import utcnow


class Branch(db.Model):
    """A branch office (营业部); the headquarters is a branch flagged as such."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    code: Mapped[str] = mapped_column(String(8), unique=True, info=C1)
    name: Mapped[str] = mapped_column(String(64), info=C1)
    is_headquarters: Mapped[bool] = mapped_column(default=False, info=C1)


class Staff(UserMixin, db.Model):
    """A staff member who logs in; one role, one branch."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    username: Mapped[str] = mapped_column(String(32), unique=True, info=C1)
    full_name: Mapped[str] = mapped_column(String(32), info=C2)
    password_hash: Mapped[str] = mapped_column(String(256), info=C3)
    role: Mapped[Role] = mapped_column(String(20), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), info=C1)
    is_enabled: Mapped[bool] = mapped_column(default=True, info=C1)
    # Wrong passwords typed for this account since its owner last logged in, and the latest one's time:
    # told to the owner at the next login. Throttling counts on its own (LoginThrottle).
    failed_logins: Mapped[int] = mapped_column(default=0, info=C1)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(info=C1)
    last_login_at: Mapped[datetime | None] = mapped_column(info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # What 第十七条 asks of anyone who witnesses an off-site opening.
    qualification_no: Mapped[str | None] = mapped_column(String(32), info=C1)  # 证券从业资格
    is_regular_employee: Mapped[bool] = mapped_column(default=True, server_default=sa_true(), info=C1)  # 正式员工
    is_marketing: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), info=C1)  # 营销人员
    witness_trained_on: Mapped[date | None] = mapped_column(info=C1)  # 见证培训合格日期
    qualification_obtained_on: Mapped[date | None] = mapped_column(info=C1)  # 取得证券从业资格日期
    regular_employee_since: Mapped[date | None] = mapped_column(info=C1)  # 成为正式员工日期
    # Set when HQ creates the account or resets its password: every page but the change page is refused
    # until the staff member picks their own (blueprints/staff_admin).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), info=C1)
    password_changed_at: Mapped[datetime | None] = mapped_column(info=C1)
    # Bumped by every administrative change, so a form posted twice or over another's change is refused.
    admin_version: Mapped[int] = mapped_column(default=1, server_default="1", info=C1)

    branch: Mapped[Branch] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.is_enabled

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[Role(self.role)]

    @property
    def sees_all_branches(self) -> bool:
        """HQ staff see every branch; everybody else only their own."""
        return self.role == Role.HQ_ADMIN or self.branch.is_headquarters


class StaffSession(db.Model):
    """A staff member's login session, kept on the server; the browser's cookie holds only its random id.

    The id itself is never stored, only its SHA-256: a copy of this table lets nobody in. A session ends
    (ended_at, end_reason) at logout, by end_sessions, or when found idle or too old; an ended session's
    cookie opens nothing.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=C3)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    created_at: Mapped[datetime] = mapped_column(info=C1)
    last_seen_at: Mapped[datetime] = mapped_column(index=True, info=C1)
    ended_at: Mapped[datetime | None] = mapped_column(info=C1)
    end_reason: Mapped[str | None] = mapped_column(String(32), info=C1)
    ip: Mapped[str | None] = mapped_column(String(64), info=C2)
    user_agent: Mapped[str | None] = mapped_column(String(64), info=C2)  # a summary: browser and system
    # What the app keeps in `session` (archive purposes, pending uploads, flashes, the CSRF token), encrypted.
    data: Mapped[str | None] = mapped_column(EncryptedText, info=C2)


class LoginThrottle(db.Model):
    """Failed password checks counted per typed username ("account") and per source address ("source").

    `key` is a keyed hash of the username or address, so the table names nobody; a row whose last failure
    is old enough is forgotten (see blueprints.auth.rules).
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    scope: Mapped[str] = mapped_column(String(8), info=C1)
    key: Mapped[str] = mapped_column(String(64), info=C1)
    failures: Mapped[int] = mapped_column(default=0, info=C1)
    last_failure_at: Mapped[datetime] = mapped_column(index=True, info=C1)
    blocked_until: Mapped[datetime | None] = mapped_column(info=C1)

    __table_args__ = (UniqueConstraint("scope", "key"),)
