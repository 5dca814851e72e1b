"""One dictionary entry: a stable code, its Chinese label, its place in the list, enabled or not."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1
from core.extensions import db
from core.timeutil import utcnow


class DictionaryEntry(db.Model):
    """A value staff choose from (字典项). The code is what records store and never changes;
    a disabled entry is no longer offered but still names the records that carry it."""

    __tablename__ = "dictionary_entry"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    kind: Mapped[str] = mapped_column(String(24), info=C1)
    code: Mapped[str] = mapped_column(String(32), info=C1)
    label: Mapped[str] = mapped_column(String(60), info=C1)
    position: Mapped[int] = mapped_column(default=0, info=C1)
    enabled: Mapped[bool] = mapped_column(default=True, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)

    __table_args__ = (UniqueConstraint("kind", "code"),)
