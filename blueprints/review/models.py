"""Review decisions (复核): the second person's approval or rejection of a submission."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from core.classification import C1, C2
from core.extensions import db
from core.timeutil import utcnow


class ReviewDecision(db.Model):
    """One decision on one submission; the unique key makes a second decision impossible."""

    __tablename__ = "review_decision"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    submission_no: Mapped[int] = mapped_column(info=C1)
    decision: Mapped[str] = mapped_column(String(8), info=C1)  # approve / reject
    reason: Mapped[str | None] = mapped_column(Text, info=C2)
    # The wizard step the clerk must correct after a rejection.
    return_step: Mapped[str | None] = mapped_column(String(24), info=C1)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    # Who was logged in at the terminal: the clerk for a same-terminal review (同机复核).
    operator_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    same_terminal: Mapped[bool] = mapped_column(default=False, info=C1)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    reviewer: Mapped[Staff] = relationship(foreign_keys=[reviewer_id])
    operator: Mapped[Staff] = relationship(foreign_keys=[operator_id])

    __table_args__ = (UniqueConstraint("application_id", "submission_no"),)


class ReviewClaim(db.Model):
    """A reviewer's hold on an application in review (认领), until released, decided or expired.

    One row per application: a second reviewer's take either finds the row held and changes nothing
    (a conditional UPDATE) or collides with the first one's insert on the unique key.
    """

    __tablename__ = "review_claim"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), unique=True, info=C1)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    expires_at: Mapped[datetime] = mapped_column(info=C1)

    reviewer: Mapped[Staff] = relationship(lazy="joined")


# The review queue, one status at a time, within a branch and across branches (HQ), oldest
# submission first: services.inbox reads each status's page from one of these and merges them.
REVIEW_QUEUE = Index("ix_application_review_queue", Application.status, Application.branch_id,
                     Application.submitted_at, Application.id)
REVIEW_QUEUE_ALL = Index("ix_application_review_queue_all", Application.status, Application.submitted_at,
                         Application.id)
