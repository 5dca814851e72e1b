"""The firm's centralised trading system (集中交易): positions, orders and Shanghai designated trading."""
from decimal import Decimal
from typing import Protocol

from sqlalchemy import JSON, Boolean, Column, Date, Integer, Numeric, String, Table, insert, select, update

from blueprints.accounts.closure_rules import held
from blueprints.accounts.simulation import FaultPlan
from core.classification import C1, C2
from core.extensions import db
from core.outbox import Rejected

ZERO = Decimal("0.00")


class TradingSystem(Protocol):
    provider: str
    simulated: bool

    def position(self, fund_account_no: str) -> dict:
        """What the fund account holds and owes: {"holdings": [{"code", "name", "quantity"}], "open_orders",
        "in_transit": Decimal, "frozen", "last_trade_on": date | None, "margin_account", "designated_sh",
        "option_account", "permissions": [names], "credited_today": Decimal,
        "simulated"}."""

    def revoke_designation(self, fund_account_no: str, idempotency_key: str) -> dict:
        """Revoke Shanghai designated trading (撤销指定交易); return {"revoked": True, "simulated"}."""

    def update_records(self, fund_account_no: str, scope: str, changes: dict, idempotency_key: str) -> dict:
        """Update the customer's shareholder (scope "shareholder") or fund-account ("funds") records;
        return {"updated": [field names], "scope", "simulated"}."""


sim_trading_position = Table(
    "sim_trading_position", db.metadata,
    Column("fund_account_no", String(16), primary_key=True, info=C1),
    Column("holdings", JSON, nullable=False, default=list, info=C2),
    Column("open_orders", Integer, nullable=False, default=0, info=C1),
    Column("in_transit", Numeric(18, 2), nullable=False, default=ZERO, info=C2),
    Column("frozen", Boolean, nullable=False, default=False, info=C1),
    Column("last_trade_on", Date, info=C1),
    Column("margin_account", Boolean, nullable=False, default=False, info=C1),
    Column("designated_sh", Boolean, nullable=False, default=False, info=C1),
    Column("option_account", Boolean, nullable=False, default=False, info=C1),
    # Business permissions still open (创业板, 科创板, …), and money credited today (dividends, interest).
    Column("permissions", JSON, nullable=False, default=list, info=C1),
    Column("credited_today", Numeric(18, 2), nullable=False, default=ZERO, info=C2),
)
sim_trading_request = Table(
    "sim_trading_request", db.metadata,
    Column("idempotency_key", String(80), primary_key=True, info=C1),
    Column("response", JSON, nullable=False, info=C2),
)

# An account the trading system has never seen holds nothing and owes nothing.
EMPTY_POSITION = {"holdings": [], "open_orders": 0, "in_transit": ZERO, "frozen": False, "last_trade_on": None,
                  "margin_account": False, "designated_sh": False, "option_account": False, "permissions": [],
                  "credited_today": ZERO}


class SimulatedTradingSystem:
    """Built-in stand-in for the centralised trading system; a repeated key gets the same answer."""

    provider = "simulator"
    simulated = True
    label = "集中交易系统"

    def __init__(self):
        self.faults = FaultPlan(self.label)

    def reset(self) -> None:
        self.faults.reset()

    def position(self, fund_account_no: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            row = conn.execute(select(sim_trading_position)
                               .where(sim_trading_position.c.fund_account_no == fund_account_no)).first()
        if row is None:
            return {**EMPTY_POSITION, "holdings": [], "simulated": True}
        return {"holdings": [dict(holding) for holding in row.holdings], "open_orders": row.open_orders,
                "in_transit": Decimal(row.in_transit).quantize(ZERO), "frozen": row.frozen,
                "last_trade_on": row.last_trade_on, "margin_account": row.margin_account,
                "designated_sh": row.designated_sh, "option_account": row.option_account,
                "permissions": list(row.permissions or []), "credited_today": Decimal(row.credited_today).quantize(ZERO),
                "simulated": True}

    def revoke_designation(self, fund_account_no: str, idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = conn.execute(select(sim_trading_request.c.response)
                                   .where(sim_trading_request.c.idempotency_key == idempotency_key)).scalar()
            if earlier is not None:
                return earlier
            row = conn.execute(select(sim_trading_position)
                               .where(sim_trading_position.c.fund_account_no == fund_account_no)).first()
            if row is not None and (held(row.holdings) or row.open_orders):
                raise Rejected(f"{self.label}拒绝：尚有证券持仓或未成交委托，不能撤销上海指定交易")
            if row is not None and row.designated_sh:
                conn.execute(update(sim_trading_position)
                             .where(sim_trading_position.c.fund_account_no == fund_account_no)
                             .values(designated_sh=False))
            response = {"revoked": True, "simulated": True}
            conn.execute(insert(sim_trading_request).values(idempotency_key=idempotency_key, response=response))
            return response

    def update_records(self, fund_account_no: str, scope: str, changes: dict, idempotency_key: str) -> dict:
        self.faults.before_call()
        with db.engine.begin() as conn:
            earlier = conn.execute(select(sim_trading_request.c.response)
                                   .where(sim_trading_request.c.idempotency_key == idempotency_key)).scalar()
            if earlier is not None:
                return earlier
            response = {"updated": sorted(changes), "scope": scope, "simulated": True}
            conn.execute(insert(sim_trading_request).values(idempotency_key=idempotency_key, response=response))
            return response

    # Helper for tests and demos: trading happened behind our back.

    def set_position(self, fund_account_no: str, **fields) -> None:
        """Set some of the position's fields (those of EMPTY_POSITION); the others keep their value."""
        unknown = set(fields) - set(EMPTY_POSITION)
        if unknown:
            raise TypeError(f"unknown position fields: {', '.join(sorted(unknown))}")
        for amount in ("in_transit", "credited_today"):
            if amount in fields:
                fields[amount] = Decimal(str(fields[amount])).quantize(ZERO)
        with db.engine.begin() as conn:
            where = sim_trading_position.c.fund_account_no == fund_account_no
            if conn.execute(select(sim_trading_position.c.fund_account_no).where(where)).first() is None:
                conn.execute(insert(sim_trading_position).values(fund_account_no=fund_account_no,
                                                                 **{**EMPTY_POSITION, **fields}))
            elif fields:
                conn.execute(update(sim_trading_position).where(where).values(**fields))


def build_trading_system(config) -> TradingSystem:
    if config["TRADING_SERVICE"] == "simulator":
        return SimulatedTradingSystem()
    raise RuntimeError(f"unknown TRADING_SERVICE {config['TRADING_SERVICE']!r}: no adapter is installed")
