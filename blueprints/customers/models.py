"""Customers (客户): the record the firm keeps for decades, its profile versions and ID documents."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint, and_
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from blueprints.customers.lifecycle import KIND_LABELS, CustomerKind  # noqa: F401 (re-exported)
from core.classification import C1, C2
from core.crypto import EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class CustomerProfile(db.Model):
    """One version of everything the firm knows about a customer (客户资料).

    Version 1 comes from the approved opening application; each applied change adds a version.
    Rows are never updated: the customer's current profile is the one its `profile_version` names.
    """

    __tablename__ = "customer_profile"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    version: Mapped[int] = mapped_column(info=C1)
    # Key information (三要素): the name exactly as on the ID document.
    name: Mapped[str] = mapped_column(String(60), info=C2)
    id_type: Mapped[str] = mapped_column(String(32), info=C1)
    id_number: Mapped[str] = mapped_column(EncryptedText, info=C2)
    id_number_index: Mapped[str] = mapped_column(String(64), index=True, info=C2)
    # Search columns for the CRM; only ever used to find the name above.
    name_key: Mapped[str] = mapped_column(String(60), index=True, info=C2)
    name_pinyin: Mapped[str] = mapped_column(String(240), index=True, info=C2)
    name_initials: Mapped[str] = mapped_column(String(60), index=True, info=C2)
    sex: Mapped[str | None] = mapped_column(String(1), info=C2)
    birth_date: Mapped[date | None] = mapped_column(Date, info=C2)
    # The birth date as "MMDD", so that a birthday is found through an index (reminders).
    birth_month_day: Mapped[str | None] = mapped_column(String(4), index=True, info=C2)
    # Contact details and profile (普通资料).
    mobile: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    mobile_index: Mapped[str | None] = mapped_column(String(64), index=True, info=C2)
    email: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    address: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    postcode: Mapped[str | None] = mapped_column(String(6), info=C2)
    occupation: Mapped[str | None] = mapped_column(String(32), info=C2)
    education: Mapped[str | None] = mapped_column(String(32), info=C2)
    employer: Mapped[str | None] = mapped_column(String(100), info=C2)
    tax_residency: Mapped[str | None] = mapped_column(String(16), info=C2)
    tax_country: Mapped[str | None] = mapped_column(String(60), info=C2)
    tax_id: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    # How key information is changed (第十二条) and the account closed (第十三条), as agreed at opening.
    change_method: Mapped[str | None] = mapped_column(String(16), info=C1)
    closure_method: Mapped[str | None] = mapped_column(String(16), info=C1)
    # Where this version came from: opening (an approved application), change, or migration.
    source: Mapped[str] = mapped_column(String(16), info=C1)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True, info=C1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    __table_args__ = (UniqueConstraint("customer_id", "version"),)


class IdDocument(db.Model):
    """A version of the customer's identity document (证件); a renewed card is a new version."""

    __tablename__ = "customer_id_document"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    version: Mapped[int] = mapped_column(info=C1)
    id_type: Mapped[str] = mapped_column(String(32), info=C1)
    id_number: Mapped[str] = mapped_column(EncryptedText, info=C2)
    id_number_index: Mapped[str] = mapped_column(String(64), index=True, info=C2)
    name: Mapped[str] = mapped_column(String(60), info=C2)
    sex: Mapped[str | None] = mapped_column(String(1), info=C2)
    ethnicity: Mapped[str | None] = mapped_column(String(16), info=C2)
    birth_date: Mapped[date | None] = mapped_column(Date, info=C2)
    address: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    authority: Mapped[str | None] = mapped_column(String(60), info=C1)
    valid_from: Mapped[date | None] = mapped_column(Date, info=C1)
    # None: valid long-term (长期).
    valid_to: Mapped[date | None] = mapped_column(Date, index=True, info=C1)
    source: Mapped[str] = mapped_column(String(16), info=C1)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), info=C1)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    superseded_at: Mapped[datetime | None] = mapped_column(info=C1)

    __table_args__ = (UniqueConstraint("customer_id", "version"),)

    def expired(self, today: date) -> bool:
        return self.valid_to is not None and self.valid_to < today


class Customer(db.Model):
    """A customer: one record for the person across every account they hold or held with the firm."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_no: Mapped[str] = mapped_column(String(16), unique=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, active_history=True, info=C1)
    # individual now; institution later.
    customer_type: Mapped[str] = mapped_column(String(16), default="individual", info=C1)
    # The lifecycle state; changed only through customers.services.change_kind.
    # active_history: the old value is loaded before a change, so the kept counts (counts.py) know what to take off.
    kind: Mapped[CustomerKind] = mapped_column(String(16), default=CustomerKind.CURRENT, index=True,
                                               active_history=True, info=C1)
    profile_version: Mapped[int] = mapped_column(default=1, info=C1)
    # The risk class (C1–C5) of the customer's latest suitability assessment, kept here so the
    # statistics count customers per class from this row alone; None: never assessed.
    risk_class: Mapped[str | None] = mapped_column(String(4), active_history=True, info=C1)
    risk_lowest: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), active_history=True, info=C1)
    # The customer's current grade (客户级别), kept here by grading beside its own record of it, so the
    # statistics count customers per grade from one index; None: never graded.
    grade: Mapped[str | None] = mapped_column(String(16), active_history=True, info=C1)
    # The unified account (一码通) China Clearing keeps for this person, once known.
    unified_account_no: Mapped[str | None] = mapped_column(String(16), index=True, info=C1)
    # The archive number (档案编号), given when the customer's file is first archived.
    archive_no: Mapped[str | None] = mapped_column(String(32), unique=True, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True, info=C1)
    # Retention (at least twenty years) counts from here.
    closed_at: Mapped[datetime | None] = mapped_column(info=C1)
    # A record merged into another of the same person (kind "merged"): the one that carries on.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)

    # The current profile, loaded with the customer in the same query.
    profile: Mapped[CustomerProfile] = relationship(
        primaryjoin=lambda: and_(foreign(CustomerProfile.customer_id) == Customer.id,
                                 foreign(CustomerProfile.version) == Customer.profile_version),
        viewonly=True, uselist=False, lazy="joined", innerjoin=False)

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def id_type(self) -> str:
        return self.profile.id_type

    @property
    def id_number(self) -> str:
        return self.profile.id_number

    @property
    def id_number_index(self) -> str:
        return self.profile.id_number_index

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[CustomerKind(self.kind)]


class CustomerCount(db.Model):
    """How many customers a branch has of one kind, risk class and grade, kept up to date by every change (counts.py).

    The statistics read these few rows instead of counting a million customers per request;
    `flask --app app customers recount` rebuilds them from the customer table.
    """

    __tablename__ = "customer_count"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), primary_key=True, info=C1)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, info=C1)
    # "" for a customer never assessed: a key column cannot be NULL.
    risk_class: Mapped[str] = mapped_column(String(4), primary_key=True, info=C1)
    risk_lowest: Mapped[bool] = mapped_column(primary_key=True, info=C1)
    # "" for a customer never graded.
    grade: Mapped[str] = mapped_column(String(16), primary_key=True, default="", server_default="", info=C1)
    n: Mapped[int] = mapped_column(default=0, info=C1)


class CustomerKindChange(db.Model):
    """One move of a customer's lifecycle state: who, when, from, to, and why."""

    __tablename__ = "customer_kind_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    from_kind: Mapped[str | None] = mapped_column(String(16), info=C1)
    to_kind: Mapped[str] = mapped_column(String(16), info=C1)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reason: Mapped[str | None] = mapped_column(String(200), info=C2)
