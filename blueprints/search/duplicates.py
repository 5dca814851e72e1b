"""Possible duplicate customers (疑似重复客户): found on every profile version and over existing data.

Flagged pairs are for review only. A pair found to be one person is merged by a reviewed business of
its own that keeps both histories (blueprints/merges); a merged record is not flagged again.
"""
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from blueprints.auth.models import Staff
from blueprints.customers import services as customers
from blueprints.customers.lifecycle import CustomerKind
from blueprints.customers.models import Customer, CustomerProfile
from blueprints.search import keys
from blueprints.search.models import CustomerSearchKey, DuplicateFlag, DuplicateReason, DuplicateStatus
from core.extensions import db
from core.timeutil import utcnow


def _flag(first: int, second: int, reason: DuplicateReason) -> bool:
    low, high = sorted((first, second))
    exists = db.session.scalar(select(func.count()).select_from(DuplicateFlag).where(
        DuplicateFlag.customer_id == low, DuplicateFlag.other_customer_id == high, DuplicateFlag.reason == reason))
    if exists:
        return False
    db.session.add(DuplicateFlag(customer_id=low, other_customer_id=high, reason=reason, status=DuplicateStatus.OPEN))
    return True


def _same_person_other_document(customer_id: int, profile: CustomerProfile):
    """Customers whose current profile has the same (folded) name and birth date under another ID type."""
    if profile.birth_date is None:
        return []
    name = keys.fold_name(profile.name)
    return list(db.session.scalars(
        customers.current_profiles()
        .join(CustomerSearchKey, and_(CustomerSearchKey.customer_id == CustomerProfile.customer_id,
                                      CustomerSearchKey.kind == keys.NAME, CustomerSearchKey.value == name))
        .where(CustomerProfile.birth_date == profile.birth_date, CustomerProfile.id_type != profile.id_type,
               CustomerProfile.customer_id != customer_id, Customer.kind != CustomerKind.MERGED)
        .with_only_columns(CustomerProfile.customer_id)))


def _sharing_mobile(customer_id: int, profile: CustomerProfile):
    if not profile.mobile_index:
        return []
    return list(db.session.scalars(customers.current_profiles().where(
        CustomerProfile.mobile_index == profile.mobile_index, CustomerProfile.customer_id != customer_id,
        Customer.kind != CustomerKind.MERGED)
        .with_only_columns(CustomerProfile.customer_id)))


def check(customer_id: int, profile: CustomerProfile) -> int:
    """Flag the pairs the customer's new profile forms with others; returns how many new flags."""
    new = sum(_flag(customer_id, other, DuplicateReason.OTHER_DOCUMENT)
              for other in _same_person_other_document(customer_id, profile))
    new += sum(_flag(customer_id, other, DuplicateReason.SHARED_MOBILE) for other in _sharing_mobile(customer_id, profile))
    return new


def find_all() -> int:
    """Flag every pair in the existing data (the customers' current profiles); returns how many new flags."""
    first, second = aliased(CustomerProfile), aliased(CustomerProfile)
    first_c, second_c = aliased(Customer), aliased(Customer)
    first_name, second_name = aliased(CustomerSearchKey), aliased(CustomerSearchKey)

    def current(profile, customer):
        return and_(customer.id == profile.customer_id, customer.profile_version == profile.version,
                    customer.kind != CustomerKind.MERGED)

    base = (select(first.customer_id, second.customer_id)
            .join(first_c, current(first, first_c))
            .join(second, second.customer_id > first.customer_id)
            .join(second_c, current(second, second_c)))
    other_document = (base
                      .join(first_name, and_(first_name.customer_id == first.customer_id, first_name.kind == keys.NAME))
                      .join(second_name, and_(second_name.customer_id == second.customer_id,
                                              second_name.kind == keys.NAME, second_name.value == first_name.value))
                      .where(first.birth_date.is_not(None), first.birth_date == second.birth_date,
                             first.id_type != second.id_type))
    shared_mobile = base.where(first.mobile_index.is_not(None), first.mobile_index == second.mobile_index)
    new = 0
    for reason, stmt in ((DuplicateReason.OTHER_DOCUMENT, other_document), (DuplicateReason.SHARED_MOBILE, shared_mobile)):
        for low, high in db.session.execute(stmt).all():
            new += _flag(low, high, reason)
    db.session.flush()
    return new


def _in_scope_ids(user: Staff):
    """The customers of the user's branch (HQ: all), closed and merged ones included: a pair stays listed
    while one of its records is closed on the way to a merge."""
    query = select(Customer.id)
    return query if user.sees_all_branches else query.where(Customer.branch_id == user.branch_id)


def flags_for(user: Staff, status: str | None = DuplicateStatus.OPEN) -> list[tuple[DuplicateFlag, Customer, Customer]]:
    """The flagged pairs the user may see: both customers in their branch (HQ: all)."""
    visible_ids = _in_scope_ids(user)
    query = select(DuplicateFlag).where(DuplicateFlag.customer_id.in_(visible_ids),
                                        DuplicateFlag.other_customer_id.in_(visible_ids))
    if status:
        query = query.where(DuplicateFlag.status == status)
    flags = list(db.session.scalars(query.order_by(DuplicateFlag.found_at.desc(), DuplicateFlag.id.desc()).limit(200)))
    by_id = customers.customers_by_id({f.customer_id for f in flags} | {f.other_customer_id for f in flags})
    return [(f, by_id[f.customer_id], by_id[f.other_customer_id]) for f in flags]


def visible_flag(user: Staff, flag_id: int) -> DuplicateFlag | None:
    visible_ids = _in_scope_ids(user)
    return db.session.scalar(select(DuplicateFlag).where(DuplicateFlag.id == flag_id,
                                                         DuplicateFlag.customer_id.in_(visible_ids),
                                                         DuplicateFlag.other_customer_id.in_(visible_ids)))


def review(flag: DuplicateFlag, user: Staff, status: DuplicateStatus, note: str) -> None:
    """Record the reviewer's finding; a pair found to be one person waits for a merge business."""
    flag.status = status
    flag.reviewed_by_id = user.id
    flag.reviewed_at = utcnow()
    flag.review_note = note[:200]
