"""The accounts opened for a customer: fund account, securities sub-accounts, depository."""
import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.accounts.lifecycle import ACCOUNT_STATUS_LABELS, AccountStatus  # noqa: F401 (re-exported)
from blueprints.customers.models import Customer
from core.classification import C1, C2
from core.reference import BANKS  # noqa: F401 (re-exported)
from core.crypto import EncryptedText
from core.extensions import db
from core.timeutil import utcnow


def _application_column(context, column: str):
    """Default of a column copied from the row's application: read it in the same statement's connection."""
    application_id = context.get_current_parameters().get("application_id")
    if application_id is None:
        return None
    return context.connection.scalar(text(f"SELECT {column} FROM application WHERE id = :id"), {"id": application_id})


class BindingStatus(enum.StrEnum):
    PENDING = "pending"
    BOUND = "bound"
    REJECTED = "rejected"
    FAILED = "failed"  # the refused request was cancelled: not bound, the customer binds a card later


BINDING_STATUS_LABELS = {
    BindingStatus.PENDING: "待银行确认",
    BindingStatus.BOUND: "已绑定",
    BindingStatus.REJECTED: "银行拒绝",
    BindingStatus.FAILED: "绑定失败（请求已撤销）",
}

MARKETS = {"SH": "上海A股账户", "SZ": "深圳A股账户"}



class FundAccount(db.Model):
    """The fund account (资金账户): a number unique in the firm, random within its branch."""

    __tablename__ = "fund_account"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    number: Mapped[str] = mapped_column(String(16), unique=True, info=C1)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), unique=True, info=C1)
    status: Mapped[AccountStatus] = mapped_column(String(16), default=AccountStatus.OPENING, info=C1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    activated_at: Mapped[datetime | None] = mapped_column(info=C1)
    # The opening's channel (onsite / witness), copied from the application so the statistics
    # count openings per channel from one index; filled from the application if not given.
    channel: Mapped[str | None] = mapped_column(String(16), default=lambda context: _application_column(
        context, "channel"), info=C1)

    customer: Mapped[Customer] = relationship()

    @property
    def status_label(self) -> str:
        return ACCOUNT_STATUS_LABELS[AccountStatus(self.status)]


class SecuritiesAccount(db.Model):
    """A securities sub-account under the customer's unified account (一码通) at China Clearing."""

    __tablename__ = "securities_account"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    fund_account_id: Mapped[int] = mapped_column(ForeignKey("fund_account.id"), index=True, info=C1)
    market: Mapped[str] = mapped_column(String(4), info=C1)
    number: Mapped[str] = mapped_column(String(16), index=True, info=C1)
    unified_account_no: Mapped[str] = mapped_column(String(16), info=C1)
    status: Mapped[AccountStatus] = mapped_column(String(16), default=AccountStatus.INACTIVE, info=C1)
    # Opened by the built-in simulator, not by China Clearing.
    simulated: Mapped[bool] = mapped_column(info=C1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    __table_args__ = (UniqueConstraint("fund_account_id", "market"),)

    @property
    def status_label(self) -> str:
        return ACCOUNT_STATUS_LABELS[AccountStatus(self.status)]

    @property
    def market_label(self) -> str:
        return MARKETS.get(self.market, self.market)


class DepositoryBinding(db.Model):
    """Third-party depository (客户交易结算资金第三方存管) of a fund account at a bank."""

    __tablename__ = "depository_binding"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    fund_account_id: Mapped[int] = mapped_column(ForeignKey("fund_account.id"), unique=True, info=C1)
    bank_code: Mapped[str] = mapped_column(String(8), info=C1)
    bank_card: Mapped[str] = mapped_column(EncryptedText, info=C2)
    status: Mapped[BindingStatus] = mapped_column(String(16), default=BindingStatus.PENDING, info=C1)
    bank_reference: Mapped[str | None] = mapped_column(String(40), info=C1)
    simulated: Mapped[bool | None] = mapped_column(info=C1)
    bound_at: Mapped[datetime | None] = mapped_column(info=C1)
    message: Mapped[str | None] = mapped_column(String(200), info=C1)

    fund_account: Mapped[FundAccount] = relationship()

    @property
    def bank_name(self) -> str:
        return BANKS.get(self.bank_code, self.bank_code)

    @property
    def status_label(self) -> str:
        return BINDING_STATUS_LABELS[BindingStatus(self.status)]


class AccountStatusChange(db.Model):
    """One move of an account's lifecycle: the fund account, or one of its securities accounts."""

    __tablename__ = "account_status_change"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    fund_account_id: Mapped[int] = mapped_column(ForeignKey("fund_account.id"), index=True, info=C1)
    # Set when the move is a securities account's; None for the fund account itself.
    securities_account_id: Mapped[int | None] = mapped_column(ForeignKey("securities_account.id"), info=C1)
    from_status: Mapped[str] = mapped_column(String(16), info=C1)
    to_status: Mapped[str] = mapped_column(String(16), info=C1)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    reason: Mapped[str | None] = mapped_column(String(200), info=C2)
