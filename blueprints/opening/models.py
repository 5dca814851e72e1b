"""Account-opening applications (开户申请) and what each step records."""
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Branch, Staff
from blueprints.opening.workflow import STATUS_LABELS, Status
from core import files
from core.crypto import EncryptedJSON, EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class Application(db.Model):
    """One customer's account-opening application, from draft to active account."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown to staff and used in URLs; carries no personal data.
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # Sent by the browser with "start", so a double click opens one draft.
    client_token: Mapped[str] = mapped_column(String(64), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    customer_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[Status] = mapped_column(String(24), default=Status.DRAFT, index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    # Key information copied out of the identity step for lists and consistency checks.
    customer_name: Mapped[str | None] = mapped_column(String(60))
    id_type: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # The customer the approved application created or joined.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    # Counts submissions; a review decision is unique per (application, submission).
    submission_no: Mapped[int] = mapped_column(default=0)

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

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict] = mapped_column(EncryptedJSON)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))

    application: Mapped[Application] = relationship(back_populates="steps")
    saved_by: Mapped[Staff] = relationship()

    __table_args__ = (UniqueConstraint("application_id", "step"),)


class StatusChange(db.Model):
    """One state transition of an application: who, when, from, to, and why."""

    __tablename__ = "application_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    # None when the system moved it (e.g. the accounts were opened).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[Staff | None] = relationship()


class IdentityVerification(db.Model):
    """One call to the citizen identity service (公民身份信息核查) and its answer."""

    __tablename__ = "identity_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(16), default="customer")
    id_number_index: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(60))
    result: Mapped[str] = mapped_column(String(16))
    # True when the answer came from the built-in simulator, never from the real service.
    simulated: Mapped[bool]
    provider: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(String(200))
    elapsed_ms: Mapped[int] = mapped_column(default=0)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))

    checked_by: Mapped[Staff] = relationship()


class Questionnaire(db.Model):
    """A version of the suitability questionnaire; questions and weights are data."""

    __tablename__ = "questionnaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    customer_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    definition: Mapped[dict] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(default=True)


class SuitabilityAssessment(db.Model):
    """A risk-tolerance assessment (风险承受能力评估) with its answers, kept in full."""

    __tablename__ = "suitability_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    # Set when the application is approved: the assessment is then the customer's.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[int]
    investor_class: Mapped[str] = mapped_column(String(4))
    is_lowest: Mapped[bool] = mapped_column(default=False)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_on: Mapped[date] = mapped_column(index=True)

    questionnaire: Mapped[Questionnaire] = relationship()
    assessor: Mapped[Staff] = relationship()


class ApplicationDocument(db.Model):
    """A scan of an identity document or authorisation captured during opening (证件影像).

    A replacement is a new row; the one it replaces keeps its review decision and gets
    `superseded_at`, so what the reviewer saw stays on record.
    """

    __tablename__ = "application_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(default=1)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    # Pixel size of an image scan, read when it was accepted (None for PDF).
    width: Mapped[int | None]
    height: Mapped[int | None]
    original_name: Mapped[str | None] = mapped_column(String(120))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending -> accepted | requested (asked again, with a reason); see documents.py.
    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]

    uploaded_by: Mapped[Staff] = relationship(foreign_keys=[uploaded_by_id])
    reviewed_by: Mapped[Staff | None] = relationship(foreign_keys=[reviewed_by_id])

    __table_args__ = (UniqueConstraint("application_id", "kind", "version"),)

    @property
    def extension(self) -> str:
        return files.extension_for(self.mime)
