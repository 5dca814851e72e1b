"""Customers (客户) known to the firm, the source for key-information consistency."""
import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto import EncryptedText
from core.extensions import db
from core.timeutil import utcnow


class CustomerKind(enum.StrEnum):
    POTENTIAL = "potential"    # 潜在
    CURRENT = "current"        # 现有
    HISTORICAL = "historical"  # 历史（已销户）
    LOST = "lost"              # 流失


KIND_LABELS = {
    CustomerKind.POTENTIAL: "潜在客户",
    CustomerKind.CURRENT: "现有客户",
    CustomerKind.HISTORICAL: "历史客户（已销户）",
    CustomerKind.LOST: "流失客户",
}


class Customer(db.Model):
    """A customer with the key information (name, ID type, ID number) all accounts share."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_no: Mapped[str] = mapped_column(String(16), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    name: Mapped[str] = mapped_column(String(60))
    id_type: Mapped[str] = mapped_column(String(32))
    id_number: Mapped[str] = mapped_column(EncryptedText)
    id_number_index: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[CustomerKind] = mapped_column(String(16), default=CustomerKind.CURRENT)
    # The unified account (一码通) China Clearing keeps for this person, once known.
    unified_account_no: Mapped[str | None] = mapped_column(String(16))
    # The archive number (档案编号), given when the customer's file is first archived.
    archive_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
