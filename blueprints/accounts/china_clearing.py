"""China Clearing (中国结算): the unified account (一码通) and securities sub-accounts."""
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, insert, select, update

from blueprints.accounts.links import accounts_named, blocking_links, blocking_message
from blueprints.accounts.simulation import FaultPlan, ServiceHours
from core import crypto
from core.classification import C1, C2
from core.extensions import db
from core.outbox import Rejected
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

    def query_unified_account(self, id_type: str, id_number: str, name: str) -> dict | None:
        """The 一码通 registered for this ID number, None when there is none:
        {"unified_account_no", "name", "id_type", "status",
         "sub_accounts": [{"market", "number", "status", "link_state", "firm"}],
         "id_valid_to", "mobile", "address", "postcode", "email", "simulated"}."""

    def change_registration(self, unified_account_no: str, changes: dict, idempotency_key: str) -> dict:
        """Change what the 一码通 registers (keys of REGISTRATION_FIELDS);
        return {"accepted": True, "unified_account_no", "simulated"}."""

    def confirm_links(self, unified_account_no: str, sub_account_numbers: list[str], idempotency_key: str) -> dict:
        """Confirm the links (关联关系确认) of these sub-accounts; return {"confirmed": [numbers], "simulated"}."""

    def close_sub_accounts(self, unified_account_no: str, sub_account_numbers: list[str], idempotency_key: str) -> dict:
        """Close these sub-accounts of ours; return {"closed": [numbers], "simulated"}."""

    def close_unified_account(self, unified_account_no: str, idempotency_key: str) -> dict:
        """Close the 一码通 unless another firm still uses it; return {"closed", "other_firms", "simulated"}."""


# What a registration change may touch; name, ID type and ID number are the key information.
REGISTRATION_FIELDS = ("name", "id_type", "id_number", "id_valid_to", "mobile", "address", "postcode", "email")
# Besides the three elements: what the query answers with.
REGISTERED_DETAILS = ("id_valid_to", "mobile", "address", "postcode", "email")
SUB_ACCOUNT_STATUSES = ("normal", "closed", "dormant", "unqualified")
# A sub-account in one of these still uses its 一码通, whichever firm holds it.
LIVE_STATUSES = ("normal", "dormant", "unqualified")
OUR_FIRM = "ours"

# The simulator's own records, as China Clearing would keep them on its side.
sim_unified_account = Table(
    "sim_csdc_unified_account", db.metadata,
    Column("id", Integer, primary_key=True, info=C1),
    Column("unified_account_no", String(16), unique=True, nullable=False, info=C1),
    # China Clearing's side needs no plaintext here: the index finds the person, and what is registered
    # about them is encrypted under the data key like the record's own copy (the simulator shares its file).
    Column("id_number_index", String(64), unique=True, nullable=False, info=C2),
    Column("name", crypto.EncryptedText, nullable=False, info=C2),
    Column("id_type", String(32), nullable=False, info=C1),
    Column("status", String(16), nullable=False, default="normal", server_default="normal", info=C1),
    Column("id_valid_to", String(16), info=C2),
    Column("mobile", crypto.EncryptedText, info=C2),
    Column("address", crypto.EncryptedText, info=C2),
    Column("postcode", crypto.EncryptedText, info=C2),
    Column("email", crypto.EncryptedText, info=C2),
    Column("created_at", DateTime, nullable=False, info=C1),
)
sim_sub_account = Table(
    "sim_csdc_sub_account", db.metadata,
    Column("id", Integer, primary_key=True, info=C1),
    # Not unique per market: a person may hold a sub-account of the same market at another firm.
    Column("unified_account_no", String(16), nullable=False, index=True, info=C1),
    Column("market", String(4), nullable=False, info=C1),
    Column("number", String(16), unique=True, nullable=False, info=C1),
    Column("status", String(16), nullable=False, default="normal", server_default="normal", info=C1),
    Column("link_state", String(16), nullable=False, default="confirmed", server_default="confirmed", info=C1),
    Column("firm", String(16), nullable=False, default=OUR_FIRM, server_default=OUR_FIRM, info=C1),
)
sim_request = Table(
    "sim_csdc_request", db.metadata,
    Column("idempotency_key", String(80), primary_key=True, info=C1),
    Column("response", JSON, nullable=False, info=C2),
)


def _earlier(conn, idempotency_key: str) -> dict | None:
    return conn.execute(select(sim_request.c.response).where(sim_request.c.idempotency_key == idempotency_key)).scalar()


def _remember(conn, idempotency_key: str, response: dict) -> dict:
    conn.execute(insert(sim_request).values(idempotency_key=idempotency_key, response=response))
    return response


def _sub_accounts(conn, unified_account_no: str) -> list[dict]:
    rows = conn.execute(select(sim_sub_account).where(sim_sub_account.c.unified_account_no == unified_account_no)
                        .order_by(sim_sub_account.c.id))
    return [{"market": row.market, "number": row.number, "status": row.status, "link_state": row.link_state,
             "firm": row.firm} for row in rows]


class SimulatedChinaClearing:
    """Built-in stand-in for China Clearing that keeps its own state and answers as it would.

    A person already known (same ID number) keeps their 一码通 and existing sub-accounts;
    a repeated request key returns the first answer unchanged. With service hours set it
    answers only on weekdays between them (Beijing time), judged by `clock` (naive UTC).
    """

    provider = "simulator"
    simulated = True
    label = "中国结算"

    def __init__(self, service_hours: str | None = None):
        self.faults = FaultPlan(self.label)
        self._configured_hours = service_hours
        self.set_service_hours(service_hours)
        self.clock: Callable[[], datetime] = utcnow

    def set_service_hours(self, spec: str | None) -> None:
        """Answer only in these hours ("09:00-16:00"), or always when `spec` is None."""
        self.service_hours = ServiceHours(spec) if spec else None

    def reset(self) -> None:
        """Back to the configured behaviour: no planned faults, the configured hours, the real clock."""
        self.faults.reset()
        self.set_service_hours(self._configured_hours)
        self.clock = utcnow

    def _before_call(self) -> None:
        self.faults.before_call()
        if self.service_hours is not None:
            self.service_hours.check(self.label, self.clock())

    def _unified(self, conn, unified_account_no: str, *, open_only: bool = True):
        unified = conn.execute(select(sim_unified_account)
                               .where(sim_unified_account.c.unified_account_no == unified_account_no)).first()
        if unified is None:
            raise Rejected(f"{self.label}拒绝：一码通账户 {unified_account_no} 不存在")
        if open_only and unified.status == "closed":
            raise Rejected(f"{self.label}拒绝：一码通账户 {unified_account_no} 已注销")
        return unified

    def _under(self, conn, unified_account_no: str, numbers: list[str]) -> list[dict]:
        """The sub-accounts `numbers` of this 一码通; refused when one is not under it."""
        subs = {sub["number"]: sub for sub in _sub_accounts(conn, unified_account_no)}
        missing = [number for number in numbers if number not in subs]
        if missing:
            raise Rejected(f"{self.label}拒绝：证券账户 {'、'.join(missing)} 不在一码通账户 {unified_account_no} 下")
        return [subs[number] for number in numbers]

    def open_accounts(self, request: OpenAccountsRequest, idempotency_key: str) -> dict:
        self._before_call()
        # Its own connection and transaction: the remote side commits independently of ours.
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            index = crypto.blind_index(request.id_number)
            unified = conn.execute(select(sim_unified_account).where(sim_unified_account.c.id_number_index == index)).first()
            reused = unified is not None
            if unified is None:
                unified_no = "18" + "".join(secrets.choice("0123456789") for _ in range(10))
                conn.execute(insert(sim_unified_account).values(
                    unified_account_no=unified_no, id_number_index=index, name=request.name,
                    id_type=request.id_type, status="normal", mobile=request.mobile, address=request.address,
                    postcode=request.postcode, created_at=utcnow()))
            else:
                unified_no = unified.unified_account_no
                if unified.status == "closed":  # a former customer comes back: the same 一码通 is reopened
                    conn.execute(update(sim_unified_account).where(sim_unified_account.c.id == unified.id)
                                 .values(status="normal"))
            subs = _sub_accounts(conn, unified_no)
            existing = {sub["market"]: sub["number"] for sub in subs
                        if sub["firm"] == OUR_FIRM and sub["status"] != "closed"}
            new_markets = [market for market in request.markets if market not in existing]
            links = blocking_links(subs)
            if new_markets and links:
                raise Rejected(f"{self.label}拒绝：{blocking_message(links)}")
            for market in new_markets:
                existing[market] = _sub_account_number(market)
                conn.execute(insert(sim_sub_account).values(
                    unified_account_no=unified_no, market=market, number=existing[market],
                    status="normal", link_state="confirmed", firm=OUR_FIRM))
            response = {
                "unified_account_no": unified_no,
                "sub_accounts": [{"market": m, "number": existing[m]} for m in request.markets],
                "reused": reused,
                "simulated": True,
            }
            return _remember(conn, idempotency_key, response)

    def query_unified_account(self, id_type: str, id_number: str, name: str) -> dict | None:
        self._before_call()
        with db.engine.begin() as conn:
            unified = conn.execute(select(sim_unified_account).where(
                sim_unified_account.c.id_number_index == crypto.blind_index(id_number))).first()
            if unified is None:
                return None
            return {"unified_account_no": unified.unified_account_no, "name": unified.name,
                    "id_type": unified.id_type, "status": unified.status,
                    "sub_accounts": _sub_accounts(conn, unified.unified_account_no),
                    **{field: getattr(unified, field) for field in REGISTERED_DETAILS}, "simulated": True}

    def change_registration(self, unified_account_no: str, changes: dict, idempotency_key: str) -> dict:
        self._before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            unknown = [field for field in changes if field not in REGISTRATION_FIELDS]
            if unknown:
                raise Rejected(f"{self.label}拒绝：不受理以下项目的变更：{'、'.join(unknown)}")
            unified = self._unified(conn, unified_account_no)
            values = {}
            for field, value in changes.items():
                value = None if value in (None, "") else str(value)
                if field == "id_number":
                    if crypto.blind_index(value) != unified.id_number_index:
                        values["id_number_index"] = crypto.blind_index(value)
                elif value != getattr(unified, field):
                    values[field] = value
            key = {"name", "id_type", "id_number_index"} & values.keys()
            if any(values[field] is None for field in key):
                raise Rejected(f"{self.label}拒绝：姓名、证件类型和证件号码不能为空")
            if key:
                links = blocking_links(_sub_accounts(conn, unified_account_no))
                if links:
                    raise Rejected(f"{self.label}拒绝：{blocking_message(links)}")
            if "id_number_index" in values and conn.execute(select(sim_unified_account.c.id).where(
                    sim_unified_account.c.id_number_index == values["id_number_index"])).first():
                raise Rejected(f"{self.label}拒绝：新证件号码已登记在另一一码通账户下")
            if values:
                conn.execute(update(sim_unified_account).where(sim_unified_account.c.id == unified.id).values(**values))
            response = {"accepted": True, "unified_account_no": unified_account_no, "simulated": True}
            return _remember(conn, idempotency_key, response)

    def confirm_links(self, unified_account_no: str, sub_account_numbers: list[str], idempotency_key: str) -> dict:
        self._before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            self._unified(conn, unified_account_no)
            self._under(conn, unified_account_no, sub_account_numbers)
            conn.execute(update(sim_sub_account).where(sim_sub_account.c.number.in_(sub_account_numbers))
                         .values(link_state="confirmed"))
            return _remember(conn, idempotency_key, {"confirmed": list(sub_account_numbers), "simulated": True})

    def close_sub_accounts(self, unified_account_no: str, sub_account_numbers: list[str], idempotency_key: str) -> dict:
        self._before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            self._unified(conn, unified_account_no, open_only=False)
            others = [sub for sub in self._under(conn, unified_account_no, sub_account_numbers)
                      if sub["firm"] != OUR_FIRM]
            if others:
                raise Rejected(f"{self.label}拒绝：证券账户 {accounts_named(others)} 由其他证券公司管理，不能由本公司注销")
            conn.execute(update(sim_sub_account).where(sim_sub_account.c.number.in_(sub_account_numbers))
                         .values(status="closed"))
            return _remember(conn, idempotency_key, {"closed": list(sub_account_numbers), "simulated": True})

    def close_unified_account(self, unified_account_no: str, idempotency_key: str) -> dict:
        self._before_call()
        with db.engine.begin() as conn:
            earlier = _earlier(conn, idempotency_key)
            if earlier is not None:
                return earlier
            unified = self._unified(conn, unified_account_no, open_only=False)
            live = [sub for sub in _sub_accounts(conn, unified_account_no) if sub["status"] in LIVE_STATUSES]
            ours = [sub for sub in live if sub["firm"] == OUR_FIRM]
            if ours:
                raise Rejected(f"{self.label}拒绝：一码通账户下尚有未注销的证券账户：{accounts_named(ours)}，须先注销")
            if live:
                # Another firm still uses it: nothing to close here, and nothing wrong.
                response = {"closed": False, "other_firms": True, "simulated": True}
            else:
                conn.execute(update(sim_unified_account).where(sim_unified_account.c.id == unified.id)
                             .values(status="closed"))
                response = {"closed": True, "other_firms": False, "simulated": True}
            return _remember(conn, idempotency_key, response)

    # Helpers for tests and demos: China Clearing's own records changed behind our back.

    def mark_link_unconfirmed(self, unified_account_no: str, market: str) -> list[str]:
        """Mark the links of this 一码通's sub-accounts in `market` unconfirmed; return their numbers."""
        return self._update_subs(unified_account_no, market, link_state="unconfirmed")

    def add_other_firm_sub_account(self, unified_account_no: str, market: str, firm: str = "OTHER") -> str:
        """Give the 一码通 a sub-account held at another securities firm; return its number."""
        number = _sub_account_number(market)
        with db.engine.begin() as conn:
            conn.execute(insert(sim_sub_account).values(unified_account_no=unified_account_no, market=market,
                                                        number=number, status="normal", link_state="confirmed",
                                                        firm=firm))
        return number

    def set_sub_account_status(self, number: str, status: str) -> None:
        if status not in SUB_ACCOUNT_STATUSES:
            raise ValueError(f"unknown sub-account status {status!r}")
        with db.engine.begin() as conn:
            if not conn.execute(update(sim_sub_account).where(sim_sub_account.c.number == number)
                                .values(status=status)).rowcount:
                raise LookupError(f"no simulated sub-account {number}")

    def _update_subs(self, unified_account_no: str, market: str, **values) -> list[str]:
        with db.engine.begin() as conn:
            where = (sim_sub_account.c.unified_account_no == unified_account_no, sim_sub_account.c.market == market)
            numbers = list(conn.execute(select(sim_sub_account.c.number).where(*where)).scalars())
            if not numbers:
                raise LookupError(f"no simulated {market} sub-account under {unified_account_no}")
            conn.execute(update(sim_sub_account).where(*where).values(**values))
        return numbers


def _sub_account_number(market: str) -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(9))
    return ("A" + digits) if market == "SH" else ("0" + digits)


def build_china_clearing(config) -> ChinaClearing:
    if config["CHINA_CLEARING_SERVICE"] == "simulator":
        return SimulatedChinaClearing(service_hours=config.get("CHINA_CLEARING_SERVICE_HOURS"))
    raise RuntimeError(f"unknown CHINA_CLEARING_SERVICE {config['CHINA_CLEARING_SERVICE']!r}: no adapter is installed")
