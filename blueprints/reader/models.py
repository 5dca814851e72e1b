"""ID-card reader devices paired with a branch, the terminals they serve, and the card reads they post."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import Branch, Staff
from core.classification import C1, C2, C3
from core.crypto import EncryptedJSON, EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class ReaderDevice(db.Model):
    """A reader agent installation, paired with one branch by an administrator."""

    __tablename__ = "reader_device"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    device_id: Mapped[str] = mapped_column(String(40), unique=True, info=C1)
    label: Mapped[str] = mapped_column(String(60), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    # The shared HMAC secret; encrypted at rest, shown once at pairing.
    secret: Mapped[str] = mapped_column(EncryptedText, info=C3)
    paired_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    paired_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    revoked_at: Mapped[datetime | None] = mapped_column(info=C1)
    last_seen_at: Mapped[datetime | None] = mapped_column(info=C1)

    branch: Mapped[Branch] = relationship()
    paired_by: Mapped[Staff] = relationship()
    terminal: Mapped["Terminal | None"] = relationship(back_populates="device", uselist=False)


class Terminal(db.Model):
    """A terminal (终端): the browser of a counter workstation or a tablet, known by its cookie.

    Only a keyed hash of the cookie's token is kept. A terminal serves at most one reader
    and a reader serves at most one terminal (the unique `device_id`).
    """

    __tablename__ = "terminal"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=C3)
    label: Mapped[str] = mapped_column(String(60), info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("reader_device.id"), unique=True, info=C1)
    paired_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    paired_at: Mapped[datetime | None] = mapped_column(info=C1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    last_seen_at: Mapped[datetime | None] = mapped_column(info=C1)

    branch: Mapped[Branch] = relationship()
    device: Mapped[ReaderDevice | None] = relationship(back_populates="terminal")
    paired_by: Mapped[Staff | None] = relationship(foreign_keys=[paired_by_id])

    @property
    def reader(self) -> ReaderDevice | None:
        """The paired reader, unless it was revoked: a revoked reader serves nobody."""
        return self.device if self.device is not None and self.device.revoked_at is None else None


class CardRead(db.Model):
    """One card read posted by a device: the decoded fields and the photo as received."""

    __tablename__ = "card_read"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    device_id: Mapped[int] = mapped_column(ForeignKey("reader_device.id"), index=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    fields: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    photo_raw: Mapped[str | None] = mapped_column(EncryptedText, info=C2)
    read_at: Mapped[datetime] = mapped_column(default=utcnow, index=True, info=C1)
    # The terminal the device was paired with when it posted: only that terminal may use the read.
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminal.id"), index=True, info=C1)
    # Set when a clerk filled an identity step from it, so one read fills one application.
    used_by_application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), info=C1)

    device: Mapped[ReaderDevice] = relationship()


class ReaderNonce(db.Model):
    """Signatures already accepted: the same signed post twice is a replay."""

    __tablename__ = "reader_nonce"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    device_id: Mapped[int] = mapped_column(ForeignKey("reader_device.id"), info=C1)
    signature: Mapped[str] = mapped_column(String(64), info=C1)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True, info=C1)

    __table_args__ = (UniqueConstraint("device_id", "signature"),)
