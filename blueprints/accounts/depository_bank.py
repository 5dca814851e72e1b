"""Depository banks (存管银行): binding a fund account to the customer's bank card."""
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import JSON, Column, String, Table, insert, select

from blueprints.accounts.simulation import FaultPlan
from core.extensions import db


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


sim_bank_request = Table(
    "sim_bank_request", db.metadata,
    Column("idempotency_key", String(80), primary_key=True),
    Column("response", JSON, nullable=False),
)


class SimulatedDepositoryBank:
    """Built-in stand-in for the banks' depository systems; a repeated key gets the same answer."""

    provider = "simulator"
    simulated = True
    label = "存管银行"

    def __init__(self):
        self.faults = FaultPlan(self.label)

    def bind(self, request: BindRequest, idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = conn.execute(select(sim_bank_request.c.response)
                                   .where(sim_bank_request.c.idempotency_key == idempotency_key)).scalar()
            if earlier is not None:
                return earlier
            response = {"bank_reference": f"{request.bank_code}-SIM-{secrets.token_hex(5).upper()}", "simulated": True}
            conn.execute(insert(sim_bank_request).values(idempotency_key=idempotency_key, response=response))
            return response


def build_depository_bank(config) -> DepositoryBank:
    if config["DEPOSITORY_BANK_SERVICE"] == "simulator":
        return SimulatedDepositoryBank()
    raise RuntimeError(f"unknown DEPOSITORY_BANK_SERVICE {config['DEPOSITORY_BANK_SERVICE']!r}: no adapter is installed")
