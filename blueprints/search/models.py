"""What finding customers keeps: the search keys, flagged possible duplicates, saved list filters."""
import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import utcnow

# Keys are compared in code-point order so that a prefix is a b-tree range on both databases:
# SQLite's BINARY collation is that already; PostgreSQL needs COLLATE "C" on the column.
KEY_TYPE = String(200).with_variant(String(200, collation="C"), "postgresql")


class CustomerSearchKey(db.Model):
    """One key that finds a customer's current profile (customer_search_key): kind and value.

    Rebuilt whenever a profile version is added; hashes for ID number and mobile, never the values.
    """

    __tablename__ = "customer_search_key"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), info=C1)
    kind: Mapped[str] = mapped_column(String(12), info=C1)
    value: Mapped[str] = mapped_column(KEY_TYPE, info=C2)

    __table_args__ = (
        Index("ix_customer_search_key_kind_value", "kind", "value", "customer_id"),
        Index("ix_customer_search_key_customer_kind_value", "customer_id", "kind", "value"),
    )


class DuplicateReason(enum.StrEnum):
    OTHER_DOCUMENT = "other_document"  # same name and birth date under another ID type
    SHARED_MOBILE = "shared_mobile"    # one mobile on several customers


DUPLICATE_REASON_LABELS = {
    DuplicateReason.OTHER_DOCUMENT: "姓名、出生日期相同而证件类型不同，疑为同一人",
    DuplicateReason.SHARED_MOBILE: "多位客户登记了同一手机号",
}


class DuplicateStatus(enum.StrEnum):
    OPEN = "open"              # 待核查
    SAME_PERSON = "same_person"  # 核实为同一人：须另行办理合并业务
    DISTINCT = "distinct"      # 核实为不同客户
    MERGED = "merged"          # 已合并（blueprints/merges）


DUPLICATE_STATUS_LABELS = {
    DuplicateStatus.OPEN: "待核查",
    DuplicateStatus.SAME_PERSON: "核实为同一人（待合并业务）",
    DuplicateStatus.DISTINCT: "核实为不同客户",
    DuplicateStatus.MERGED: "已合并",
}


class DuplicateFlag(db.Model):
    """A pair of customers flagged as possibly one person, for review (疑似重复客户)."""

    __tablename__ = "customer_duplicate_flag"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    # The pair in id order, so a pair is flagged once per reason.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), info=C1)
    other_customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    reason: Mapped[DuplicateReason] = mapped_column(String(20), info=C1)
    status: Mapped[DuplicateStatus] = mapped_column(String(16), default=DuplicateStatus.OPEN, index=True, info=C1)
    found_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    reviewed_at: Mapped[datetime | None] = mapped_column(info=C1)
    review_note: Mapped[str | None] = mapped_column(String(200), info=C2)

    __table_args__ = (UniqueConstraint("customer_id", "other_customer_id", "reason"),)

    @property
    def reason_label(self) -> str:
        return DUPLICATE_REASON_LABELS[DuplicateReason(self.reason)]

    @property
    def status_label(self) -> str:
        return DUPLICATE_STATUS_LABELS[DuplicateStatus(self.status)]


class SavedCustomerFilter(db.Model):
    """A staff member's named filter of the customer list (常用筛选)."""

    __tablename__ = "saved_customer_filter"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    name: Mapped[str] = mapped_column(String(40), info=C1)
    # Only filter fields (branch, kind, dates, days): never a personal value.
    params: Mapped[dict] = mapped_column(JSON, default=dict, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    __table_args__ = (UniqueConstraint("staff_id", "name"),)


class KeptSearch(db.Model):
    """What a staff member typed into a search form (a name, an ID number, a mobile …), kept on the server
    under a random key (kept_search), so that the results are a page the browser reloads, goes back to and
    pages through while its URL carries only the key. Read only by the staff member who typed it."""

    __tablename__ = "kept_search"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    key: Mapped[str] = mapped_column(String(32), unique=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True, info=C1)
    scope: Mapped[str] = mapped_column(String(24), info=C1)
    criteria: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
