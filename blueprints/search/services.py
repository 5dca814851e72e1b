"""Finding customers: keeping their search keys, answering a query within what the user may see."""
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, insert, or_, select, tuple_
from sqlalchemy.orm import aliased

from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customers
from blueprints.customers.models import Customer, CustomerProfile
from blueprints.search import keys
from blueprints.search.keys import Query
from blueprints.search.models import CustomerSearchKey
from core import crypto
from core.extensions import db

DROPDOWN_LIMIT = 8
PAGE_SIZE = 20


# -- keeping the keys

def keys_of(profile: CustomerProfile) -> set[tuple[str, str]]:
    return keys.customer_keys(name=profile.name, id_number_index=profile.id_number_index,
                              mobile_index=profile.mobile_index)


def reindex(customer_id: int, profile: CustomerProfile) -> None:
    """Replace the customer's keys by those of `profile` (its current version)."""
    db.session.execute(delete(CustomerSearchKey).where(CustomerSearchKey.customer_id == customer_id))
    rows = [{"customer_id": customer_id, "kind": kind, "value": value} for kind, value in sorted(keys_of(profile))]
    if rows:
        db.session.execute(insert(CustomerSearchKey), rows)


@customers.on_profile_version
def _profile_added(customer: Customer, profile: CustomerProfile) -> None:
    from blueprints.search import duplicates

    reindex(customer.id, profile)
    duplicates.check(customer.id, profile)


_after_reindex = []


def after_reindex(listener):
    """Register `listener(customer_ids)`, called after reindex_all rebuilt those customers' keys (before commit)."""
    _after_reindex.append(listener)
    return listener


def reindex_all(batch: int = 2000) -> int:
    """Rebuild every customer's keys from the current profiles; returns how many customers."""
    count, last_id = 0, 0
    while True:
        profiles = list(db.session.scalars(customers.current_profiles().where(CustomerProfile.customer_id > last_id)
                                           .order_by(CustomerProfile.customer_id).limit(batch)))
        if not profiles:
            return count
        ids = [p.customer_id for p in profiles]
        db.session.execute(delete(CustomerSearchKey).where(CustomerSearchKey.customer_id.in_(ids)))
        rows = [{"customer_id": p.customer_id, "kind": kind, "value": value}
                for p in profiles for kind, value in sorted(keys_of(p))]
        db.session.execute(insert(CustomerSearchKey), rows)
        for listener in _after_reindex:
            listener(ids)
        db.session.commit()
        count += len(profiles)
        last_id = ids[-1]


# -- answering a query

@dataclass(frozen=True)
class Cursor:
    """Where a page of prefix matches ended: the key kind's rank, the key, the customer."""

    rank: int
    value: str
    customer_id: int

    def as_form(self) -> dict:
        return {"after_rank": self.rank, "after_value": self.value, "after_id": self.customer_id}

    @classmethod
    def from_form(cls, form) -> "Cursor | None":
        try:
            return cls(int(form["after_rank"]), form["after_value"], int(form["after_id"]))
        except (KeyError, ValueError, TypeError):
            return None


@dataclass
class Hit:
    customer: Customer
    matched: str  # the key kind that found it
    branch: Branch | None = None

    @property
    def matched_label(self) -> str:
        return keys.KEY_LABELS[self.matched]


@dataclass
class Result:
    query: Query
    hits: list[Hit]
    more: bool
    cursor: Cursor | None = None


def _visible_condition(user: Staff):
    return customers.visible(user).whereclause


def prefix_matches(user: Staff, query: Query, limit: int, after: Cursor | None,
                   within=None) -> tuple[list[tuple[int, str, int]], bool]:
    """(rank, value, customer_id) of the first `limit` customers whose keys start with the query.

    One range scan per key kind, in the query's order; a customer is listed once, at its first matching key.
    `within` is a condition on Customer that replaces the user's customer visibility (the archive
    reads closed customers' files too).
    """
    low, high = query.value, keys.prefix_upper_bound(query.value)
    key, earlier_key = aliased(CustomerSearchKey), aliased(CustomerSearchKey)
    visible = _visible_condition(user) if within is None else within
    found: list[tuple[int, str, int]] = []
    for rank, kind in enumerate(query.kinds):
        if after is not None and rank < after.rank:
            continue
        same_kind_before = and_(earlier_key.kind == kind, earlier_key.value < key.value)
        earlier = exists().where(
            earlier_key.customer_id == key.customer_id, earlier_key.value >= low, earlier_key.value < high,
            or_(earlier_key.kind.in_(query.kinds[:rank]), same_kind_before) if rank else same_kind_before)
        stmt = (select(key.value, key.customer_id)
                .join(Customer, Customer.id == key.customer_id)
                .where(key.kind == kind, key.value >= low, key.value < high, ~earlier, visible)
                .order_by(key.value, key.customer_id)
                .limit(limit + 1 - len(found)))
        if after is not None and rank == after.rank:
            stmt = stmt.where(tuple_(key.value, key.customer_id) > tuple_(after.value, after.customer_id))
        found += [(rank, value, customer_id) for value, customer_id in db.session.execute(stmt)]
        if len(found) > limit:
            return found[:limit], True
    return found, False


def _exact_matches(user: Staff, query: Query) -> list[tuple[str, int]]:
    """(kind, customer_id) of customers holding exactly the typed number."""
    visible = _visible_condition(user)
    found: list[tuple[str, int]] = []

    def run(kind: str, stmt) -> None:
        found.extend((kind, customer_id) for customer_id in db.session.scalars(stmt.where(visible).limit(PAGE_SIZE)))

    hashes = [crypto.blind_index(number) for number in query.id_numbers]
    if hashes:
        run(keys.ID_NUMBER, select(CustomerSearchKey.customer_id).join(Customer, Customer.id == CustomerSearchKey.customer_id)
            .where(CustomerSearchKey.kind == keys.ID_NUMBER, CustomerSearchKey.value.in_(hashes)))
    if query.mobile:
        run(keys.MOBILE, select(CustomerSearchKey.customer_id).join(Customer, Customer.id == CustomerSearchKey.customer_id)
            .where(CustomerSearchKey.kind == keys.MOBILE, CustomerSearchKey.value == crypto.blind_index(query.mobile)))
    numbers = query.numbers
    if keys.CUSTOMER_NO in numbers:
        run(keys.CUSTOMER_NO, select(Customer.id).where(Customer.customer_no == numbers[keys.CUSTOMER_NO]))
    if keys.FUND_ACCOUNT in numbers:
        run(keys.FUND_ACCOUNT, select(Customer.id).join(FundAccount, FundAccount.customer_id == Customer.id)
            .where(FundAccount.number == numbers[keys.FUND_ACCOUNT]))
    if keys.UNIFIED_ACCOUNT in numbers:
        run(keys.UNIFIED_ACCOUNT, select(Customer.id).where(Customer.unified_account_no == numbers[keys.UNIFIED_ACCOUNT]))
    if keys.SUB_ACCOUNT in numbers:
        run(keys.SUB_ACCOUNT, select(Customer.id).join(SecuritiesAccount, SecuritiesAccount.customer_id == Customer.id)
            .where(SecuritiesAccount.number == numbers[keys.SUB_ACCOUNT]))
    seen: set[int] = set()
    return [(kind, cid) for kind, cid in found if not (cid in seen or seen.add(cid))]


def _hits(pairs: list[tuple[str, int]]) -> list[Hit]:
    by_id = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_({cid for _k, cid in pairs})))}
    branch_ids = {c.branch_id for c in by_id.values()}
    branches = {b.id: b for b in db.session.scalars(select(Branch).where(Branch.id.in_(branch_ids)))} if branch_ids else {}
    return [Hit(by_id[cid], kind, branches.get(by_id[cid].branch_id)) for kind, cid in pairs if cid in by_id]


def matched_at(query: Query, rank: int, customer_id: int) -> Cursor | None:
    """Where a customer was listed for `query` (its first matching key of the rank's kind), as a Cursor.

    Lets a caller keep only (rank, customer) in its page links: the key value is the customer's name.
    """
    if not 0 <= rank < len(query.kinds):
        return None
    value = db.session.scalar(select(func.min(CustomerSearchKey.value)).where(
        CustomerSearchKey.customer_id == customer_id, CustomerSearchKey.kind == query.kinds[rank],
        CustomerSearchKey.value >= query.value, CustomerSearchKey.value < keys.prefix_upper_bound(query.value)))
    return Cursor(rank, value, customer_id) if value is not None else None


def find(user: Staff, query: Query, *, limit: int = DROPDOWN_LIMIT, after: Cursor | None = None) -> Result:
    """The customers `user` may see that the query finds, in key order, `limit` at a time."""
    if query.shape == "invalid":
        return Result(query, [], False)
    if query.shape == "number":
        pairs = _exact_matches(user, query)
        return Result(query, _hits(pairs[:limit]), len(pairs) > limit)
    rows, more = prefix_matches(user, query, limit, after)
    hits = _hits([(query.kinds[rank], customer_id) for rank, _value, customer_id in rows])
    cursor = Cursor(*rows[-1]) if more and rows else None
    return Result(query, hits, more, cursor)
