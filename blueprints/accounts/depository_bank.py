"""Depository banks (存管银行): binding a fund account to the customer's bank card, and what follows."""
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import JSON, Boolean, Column, Numeric, String, Table, insert, select, update

from blueprints.accounts.simulation import FaultPlan
from core import crypto
from core.classification import C1, C2
from core.extensions import db
from core.outbox import Rejected

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BindRequest:
    bank_code: str
    bank_card: str
    fund_account_no: str
    name: str
    id_number: str


class DepositoryBank(Protocol):
    provider: str
    simulated: bool

    def bind(self, request: BindRequest, idempotency_key: str) -> dict:
        """Bind the card to the fund account; return {"bank_reference", "simulated"}."""

    def balance(self, fund_account_no: str) -> dict:
        """The customer's settlement funds the bank holds for the fund account: {"balance": Decimal, "simulated"}."""

    def notify_key_change(self, fund_account_no: str, name: str, id_type: str, id_number: str,
                          idempotency_key: str) -> dict:
        """Tell the bank the customer's new key information;
        return {"confirmed": True, "bank_reference", "simulated"}."""

    def transfer_out(self, fund_account_no: str, amount: Decimal, idempotency_key: str) -> dict:
        """Move the whole balance to the bound card (funds out before closure);
        return {"transferred": "amount", "bank_reference", "simulated"}."""

    def unbind(self, fund_account_no: str, idempotency_key: str) -> dict:
        """End the depository of an empty fund account; return {"unbound": True, "simulated"}."""


sim_bank_request = Table(
    "sim_bank_request", db.metadata,
    Column("idempotency_key", String(80), primary_key=True, info=C1),
    Column("response", JSON, nullable=False, info=C2),
)
sim_bank_balance = Table(
    "sim_bank_balance", db.metadata,
    Column("fund_account_no", String(16), primary_key=True, info=C1),
    Column("balance", Numeric(18, 2), nullable=False, default=ZERO, info=C2),
    Column("bank_code", String(8), info=C1),
    Column("card_index", String(64), info=C2),
    Column("bound", Boolean, nullable=False, default=False, info=C1),
    # Whether the bank has taken the customer's latest key information (set by notify_key_change).
    Column("key_info_confirmed", Boolean, nullable=False, default=True, info=C1),
)


def _earlier(conn, idempotency_key: str) -> dict | None:
    return conn.execute(select(sim_bank_request.c.response)
                        .where(sim_bank_request.c.idempotency_key == idempotency_key)).scalar()


def _remember(conn, idempotency_key: str, response: dict) -> dict:
    conn.execute(insert(sim_bank_request).values(idempotency_key=idempotency_key, response=response))
    return response


def _reference(bank_code: str) -> str:
    return f"{bank_code}-SIM-{secrets.token_hex(5).upper()}"


def _yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


class SimulatedDepositoryBank:
    """Built-in stand-in for the banks' depository systems; a repeated key gets the same answer."""

    provider = "simulator"
    simulated = True
    label = "存管银行"

    def __init__(self):
        self.faults = FaultPlan(self.label)

    def reset(self) -> None:
        self.faults.reset()

    def _account(self, conn, fund_account_no: str):
        account = conn.execute(select(sim_bank_balance)
                               .where(sim_bank_balance.c.fund_account_no == fund_account_no)).first()
        if account is None:
            raise Rejected(f"{self.label}拒绝：资金账户 {fund_account_no} 未在本行办理存管")
        return account

    def bind(self, request: BindRequest, idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            card = {"bank_code": request.bank_code, "card_index": crypto.blind_index(request.bank_card), "bound": True}
            known = conn.execute(select(sim_bank_balance.c.fund_account_no)
                                 .where(sim_bank_balance.c.fund_account_no == request.fund_account_no)).first()
            if known is None:
                conn.execute(insert(sim_bank_balance).values(fund_account_no=request.fund_account_no, balance=ZERO,
                                                            key_info_confirmed=True, **card))
            else:
                conn.execute(update(sim_bank_balance)
                             .where(sim_bank_balance.c.fund_account_no == request.fund_account_no).values(**card))
            response = {"bank_reference": _reference(request.bank_code), "simulated": True}
            return _remember(conn, idempotency_key, response)

    def balance(self, fund_account_no: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            amount = conn.execute(select(sim_bank_balance.c.balance)
                                  .where(sim_bank_balance.c.fund_account_no == fund_account_no)).scalar()
        return {"balance": ZERO if amount is None else Decimal(amount).quantize(ZERO), "simulated": True}

    def notify_key_change(self, fund_account_no: str, name: str, id_type: str, id_number: str,
                          idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            account = self._account(conn, fund_account_no)
            conn.execute(update(sim_bank_balance).where(sim_bank_balance.c.fund_account_no == fund_account_no)
                         .values(key_info_confirmed=True))
            response = {"confirmed": True, "bank_reference": _reference(account.bank_code), "simulated": True}
            return _remember(conn, idempotency_key, response)

    def transfer_out(self, fund_account_no: str, amount: Decimal, idempotency_key: str) -> dict:
        self.faults.before_call()
        amount = Decimal(str(amount)).quantize(ZERO)
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            account = self._account(conn, fund_account_no)
            if not account.bound:
                raise Rejected(f"{self.label}拒绝：资金账户 {fund_account_no} 未绑定银行卡，无法转出")
            balance = Decimal(account.balance).quantize(ZERO)
            if amount != balance:
                raise Rejected(f"{self.label}拒绝：转出金额 {_yuan(amount)} 与资金余额 {_yuan(balance)} 不符")
            conn.execute(update(sim_bank_balance).where(sim_bank_balance.c.fund_account_no == fund_account_no)
                         .values(balance=ZERO))
            # Amounts travel as strings: the answer is stored as JSON on both sides.
            response = {"transferred": str(amount), "bank_reference": _reference(account.bank_code),
                        "simulated": True}
            return _remember(conn, idempotency_key, response)

    def unbind(self, fund_account_no: str, idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            account = self._account(conn, fund_account_no)
            balance = Decimal(account.balance).quantize(ZERO)
            if balance != 0:
                raise Rejected(f"{self.label}拒绝：资金账户尚有余额 {_yuan(balance)}，须先转出")
            conn.execute(update(sim_bank_balance).where(sim_bank_balance.c.fund_account_no == fund_account_no)
                         .values(bound=False))
            return _remember(conn, idempotency_key, {"unbound": True, "simulated": True})

    # Helpers for tests and demos: the bank's side changed behind our back.

    def set_balance(self, fund_account_no: str, amount: Decimal) -> None:
        amount = Decimal(str(amount)).quantize(ZERO)
        with db.engine.begin() as conn:
            if not conn.execute(update(sim_bank_balance).where(sim_bank_balance.c.fund_account_no == fund_account_no)
                                .values(balance=amount)).rowcount:
                conn.execute(insert(sim_bank_balance).values(fund_account_no=fund_account_no, balance=amount,
                                                            bound=False, key_info_confirmed=True))


def build_depository_bank(config) -> DepositoryBank:
    if config["DEPOSITORY_BANK_SERVICE"] == "simulator":
        return SimulatedDepositoryBank()
    raise RuntimeError(f"unknown DEPOSITORY_BANK_SERVICE {config['DEPOSITORY_BANK_SERVICE']!r}: no adapter is installed")
