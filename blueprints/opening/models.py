"""Account-opening applications (开户申请) and what each step records."""
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Branch, Staff
from blueprints.opening.workflow import STATUS_LABELS, Status
from core import files
from core.classification import C1, C2
from core.crypto import EncryptedJSON, EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class Application(db.Model):
    """One customer's account-opening application, from draft to active account."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    # Shown to staff and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True, info=C1)
    # Sent by the browser with "start", so a double click opens one draft.
    client_token: Mapped[str] = mapped_column(String(64), unique=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    channel: Mapped[str] = mapped_column(String(16), info=C1)
    customer_type: Mapped[str] = mapped_column(String(16), info=C1)
    status: Mapped[Status] = mapped_column(String(24), default=Status.DRAFT, index=True, info=C1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, info=C1)
    submitted_at: Mapped[datetime | None] = mapped_column(info=C1)
    # Key information copied out of the identity step for lists and consistency checks.
    customer_name: Mapped[str | None] = mapped_column(String(60), info=C2)
    id_type: Mapped[str | None] = mapped_column(String(32), info=C1)
    id_number: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True, info=C2)
    # The customer the approved application created or joined.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)
    # Counts submissions; a review decision is unique per (application, submission).
    submission_no: Mapped[int] = mapped_column(default=0, info=C1)

    branch: Mapped[Branch] = relationship()
    created_by: Mapped[Staff] = relationship()
    steps: Mapped[list["ApplicationStep"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationStep.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[Status(self.status)]

    def step_data(self, key: str) -> dict | None:
        for step in self.steps:
            if step.step == key:
                return step.data
        return None

    @property
    def completed_steps(self) -> set[str]:
        return {step.step for step in self.steps}


class ApplicationStep(db.Model):
    """What one wizard step saved, by whom and when; the data is encrypted at rest."""

    __tablename__ = "application_step"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), info=C1)
    step: Mapped[str] = mapped_column(String(24), info=C1)
    data: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, info=C1)
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)

    application: Mapped[Application] = relationship(back_populates="steps")
    saved_by: Mapped[Staff] = relationship()

    __table_args__ = (UniqueConstraint("application_id", "step"),)


class StatusChange(db.Model):
    """One state transition of an application: who, when, from, to, and why."""

    __tablename__ = "application_status_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    from_status: Mapped[str] = mapped_column(String(24), info=C1)
    to_status: Mapped[str] = mapped_column(String(24), info=C1)
    # None when the system moved it (e.g. the accounts were opened).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reason: Mapped[str | None] = mapped_column(Text, info=C2)

    actor: Mapped[Staff | None] = relationship()


class IdentityVerification(db.Model):
    """One call to the citizen identity service (公民身份信息核查) and its answer."""

    __tablename__ = "identity_verification"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    subject: Mapped[str] = mapped_column(String(16), default="customer", info=C1)
    id_number_index: Mapped[str] = mapped_column(String(64), info=C2)
    name: Mapped[str] = mapped_column(String(60), info=C2)
    result: Mapped[str] = mapped_column(String(16), info=C1)
    # True when the answer came from the built-in simulator, never from the real service.
    simulated: Mapped[bool] = mapped_column(info=C1)
    provider: Mapped[str] = mapped_column(String(32), info=C1)
    reference: Mapped[str | None] = mapped_column(String(64), info=C1)
    message: Mapped[str | None] = mapped_column(String(200), info=C1)
    elapsed_ms: Mapped[int] = mapped_column(default=0, info=C1)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)

    checked_by: Mapped[Staff] = relationship()


class Questionnaire(db.Model):
    """A version of the suitability questionnaire; questions and weights are data."""

    __tablename__ = "questionnaire"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    version: Mapped[str] = mapped_column(String(32), unique=True, info=C1)
    customer_type: Mapped[str] = mapped_column(String(16), info=C1)
    title: Mapped[str] = mapped_column(String(100), info=C1)
    definition: Mapped[dict] = mapped_column(JSON, info=C1)
    is_active: Mapped[bool] = mapped_column(default=True, info=C1)


class SuitabilityAssessment(db.Model):
    """A risk-tolerance assessment (风险承受能力评估) with its answers, kept in full."""

    __tablename__ = "suitability_assessment"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    # Set when the application is approved: the assessment is then the customer's.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"), info=C1)
    answers: Mapped[dict] = mapped_column(JSON, info=C2)
    score: Mapped[int] = mapped_column(info=C1)
    investor_class: Mapped[str] = mapped_column(String(4), info=C1)
    is_lowest: Mapped[bool] = mapped_column(default=False, info=C1)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    expires_on: Mapped[date] = mapped_column(index=True, info=C1)

    questionnaire: Mapped[Questionnaire] = relationship()
    assessor: Mapped[Staff] = relationship()


class ApplicationDocument(db.Model):
    """A scan of an identity document or authorisation captured during opening (证件影像).

    A replacement is a new row; the one it replaces keeps its review decision and gets
    `superseded_at`, so what the reviewer saw stays on record.
    """

    __tablename__ = "application_document"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True, info=C1)
    kind: Mapped[str] = mapped_column(String(24), info=C1)
    version: Mapped[int] = mapped_column(default=1, info=C1)
    sha256: Mapped[str] = mapped_column(String(64), info=C1)
    mime: Mapped[str] = mapped_column(String(40), info=C1)
    size: Mapped[int] = mapped_column(info=C1)
    # Pixel size of an image scan, read when it was accepted (None for PDF).
    width: Mapped[int | None] = mapped_column(info=C1)
    height: Mapped[int | None] = mapped_column(info=C1)
    original_name: Mapped[str | None] = mapped_column(String(120), info=C2)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # pending -> accepted | requested (asked again, with a reason); see documents.py.
    review_status: Mapped[str] = mapped_column(String(16), default="pending", info=C1)
    review_reason: Mapped[str | None] = mapped_column(Text, info=C2)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    reviewed_at: Mapped[datetime | None] = mapped_column(info=C1)
    superseded_at: Mapped[datetime | None] = mapped_column(info=C1)

    uploaded_by: Mapped[Staff] = relationship(foreign_keys=[uploaded_by_id])
    reviewed_by: Mapped[Staff | None] = relationship(foreign_keys=[reviewed_by_id])

    __table_args__ = (UniqueConstraint("application_id", "kind", "version"),)

    @property
    def extension(self) -> str:
        return files.extension_for(self.mime)
