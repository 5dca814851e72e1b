"""China Clearing (中国结算): the unified account (一码通) and securities sub-accounts."""
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Table, UniqueConstraint, insert, select

from blueprints.accounts.simulation import FaultPlan
from core import crypto
from core.extensions import db
from core.timeutil import utcnow


@dataclass(frozen=True)
class OpenAccountsRequest:
    name: str
    id_type: str
    id_number: str
    markets: tuple[str, ...]
    # Contact details registered with the 一码通; China Clearing may refuse an incomplete one.
    mobile: str | None = None
    address: str | None = None
    postcode: str | None = None


class ChinaClearing(Protocol):
    provider: str
    simulated: bool

    def open_accounts(self, request: OpenAccountsRequest, idempotency_key: str) -> dict:
        """Open (or reuse) the 一码通 and the sub-accounts; return
        {"unified_account_no", "sub_accounts": [{"market", "number"}], "reused": bool, "simulated": bool}."""


# The simulator's own records, as China Clearing would keep them on its side.
sim_unified_account = Table(
    "sim_csdc_unified_account", db.metadata,
    Column("id", Integer, primary_key=True),
    Column("unified_account_no", String(16), unique=True, nullable=False),
    Column("id_number_index", String(64), unique=True, nullable=False),
    Column("name", String(60), nullable=False),
    Column("id_type", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
)
sim_sub_account = Table(
    "sim_csdc_sub_account", db.metadata,
    Column("id", Integer, primary_key=True),
    Column("unified_account_no", String(16), nullable=False),
    Column("market", String(4), nullable=False),
    Column("number", String(16), unique=True, nullable=False),
    Column("confirmed", Boolean, nullable=False, default=True),
    UniqueConstraint("unified_account_no", "market"),
)
sim_request = Table(
    "sim_csdc_request", db.metadata,
    Column("idempotency_key", String(80), primary_key=True),
    Column("response", JSON, nullable=False),
)


class SimulatedChinaClearing:
    """Built-in stand-in for China Clearing that keeps its own state and answers as it would.

    A person already known (same ID number) keeps their 一码通 and existing sub-accounts;
    a repeated request key returns the first answer unchanged.
    """

    provider = "simulator"
    simulated = True
    label = "中国结算"

    def __init__(self):
        self.faults = FaultPlan(self.label)

    def open_accounts(self, request: OpenAccountsRequest, idempotency_key: str) -> dict:
        self.faults.before_call()
        # Its own connection and transaction: the remote side commits independently of ours.
        with db.engine.begin() as conn:
            earlier = conn.execute(select(sim_request.c.response).where(sim_request.c.idempotency_key == idempotency_key)).scalar()
            if earlier is not None:
                return earlier
            index = crypto.blind_index(request.id_number)
            unified = conn.execute(select(sim_unified_account).where(sim_unified_account.c.id_number_index == index)).first()
            reused = unified is not None
            if unified is None:
                unified_no = "18" + "".join(secrets.choice("0123456789") for _ in range(10))
                conn.execute(insert(sim_unified_account).values(
                    unified_account_no=unified_no, id_number_index=index, name=request.name,
                    id_type=request.id_type, created_at=utcnow()))
            else:
                unified_no = unified.unified_account_no
            existing = {row.market: row.number for row in conn.execute(
                select(sim_sub_account).where(sim_sub_account.c.unified_account_no == unified_no))}
            for market in request.markets:
                if market not in existing:
                    existing[market] = _sub_account_number(market)
                    conn.execute(insert(sim_sub_account).values(unified_account_no=unified_no, market=market,
                                                                number=existing[market], confirmed=True))
            response = {
                "unified_account_no": unified_no,
                "sub_accounts": [{"market": m, "number": existing[m]} for m in request.markets],
                "reused": reused,
                "simulated": True,
            }
            conn.execute(insert(sim_request).values(idempotency_key=idempotency_key, response=response))
            return response


def _sub_account_number(market: str) -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(9))
    return ("A" + digits) if market == "SH" else ("0" + digits)


def build_china_clearing(config) -> ChinaClearing:
    if config["CHINA_CLEARING_SERVICE"] == "simulator":
        return SimulatedChinaClearing()
    raise RuntimeError(f"unknown CHINA_CLEARING_SERVICE {config['CHINA_CLEARING_SERVICE']!r}: no adapter is installed")
