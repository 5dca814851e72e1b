"""Branches (营业部) and staff users."""
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.classification import C1, C2, C3
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
    failed_logins: Mapped[int] = mapped_column(default=0, info=C1)
    locked_until: Mapped[datetime | None] = mapped_column(info=C1)
    last_login_at: Mapped[datetime | None] = mapped_column(info=C1)
    # Bumped on password change or lock so that existing sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # What 第十七条 asks of anyone who witnesses an off-site opening.
    qualification_no: Mapped[str | None] = mapped_column(String(32), info=C1)  # 证券从业资格
    is_regular_employee: Mapped[bool] = mapped_column(default=True, server_default=sa_true(), info=C1)  # 正式员工
    is_marketing: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), info=C1)  # 营销人员
    witness_trained_on: Mapped[date | None] = mapped_column(info=C1)  # 见证培训合格日期

    branch: Mapped[Branch] = relationship(lazy="joined")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

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
