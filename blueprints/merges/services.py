"""Merging two records of one person: entry, the conditions, the reviewer's decision, what each page shows.

A flagged pair found to be one person (duplicates.py, 核实为同一人) is merged here. The record that carries on
(保留客户) takes in the other (被合并客户): the absorbed record is never rewritten or deleted. It keeps every
profile version, ID document, account, service record, return visit and archive file under its own customer
number; its lifecycle state becomes "merged", it points to the survivor, and the survivor's search keys find
it from then on. Accounts are not moved: the absorbed record's accounts are closed first, through closure
(一人一户: the person keeps the survivor's accounts).
"""
import secrets

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from blueprints.accounts.lifecycle import LIVE
from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.changes.models import CustomerChange
from blueprints.changes.workflow import OPEN as CHANGE_OPEN
from blueprints.customers import services as customers
from blueprints.customers.lifecycle import ENDED, CustomerKind
from blueprints.customers.models import Customer, CustomerProfile
from blueprints.customers.review_rules import checker_refusal
from blueprints.managers import services as managers
from blueprints.merges.models import TRANSITIONS, CustomerMerge, MergeStatus
from blueprints.search import services as search
from blueprints.search.models import CustomerSearchKey, DuplicateFlag, DuplicateStatus
from blueprints.service.models import ServiceRecord
from blueprints.service.rules import ServiceStatus
from core import audit
from core.extensions import db
from core.idempotency import made_with
from core.roles import Role
from core.timeutil import to_beijing, utcnow

REQUEST_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)
VIEW_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN, Role.REVIEWER)
BUSINESS = "客户合并"
# A merged record may only have been one of these: a current customer's accounts are closed first.
MERGEABLE_KINDS = frozenset({CustomerKind.POTENTIAL, CustomerKind.HISTORICAL, CustomerKind.LOST})


class MergeRefused(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


# -- who sees what

def in_scope(user: Staff, customer: Customer) -> bool:
    """Whether the record is in the user's branch (HQ: any), closed and merged ones included."""
    return user.sees_all_branches or customer.branch_id == user.branch_id


def find(user: Staff, reference: str, for_update: bool = False) -> CustomerMerge | None:
    """A merge `user` may see: both records within their branch (HQ: every merge).

    With `for_update` the row is locked and read afresh, so two reviewers deciding at once are taken one
    after the other and the second sees the first one's decision.
    """
    query = select(CustomerMerge).where(CustomerMerge.reference == reference)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    merge = db.session.scalar(query)
    if merge is None:
        return None
    pair = customers.customers_by_id([merge.survivor_id, merge.absorbed_id])
    if not all(in_scope(user, pair[i]) for i in (merge.survivor_id, merge.absorbed_id)):
        return None
    return merge


def merges_for(user: Staff, status: str | None = None, limit: int = 100) -> list[CustomerMerge]:
    """The merges `user` sees, newest first: a branch sees those with both records in it."""
    query = select(CustomerMerge)
    if not user.sees_all_branches:
        query = query.where(CustomerMerge.branch_id == user.branch_id, CustomerMerge.cross_branch.is_(False))
    if status:
        query = query.where(CustomerMerge.status == status)
    return list(db.session.scalars(query.order_by(CustomerMerge.requested_at.desc(), CustomerMerge.id.desc())
                                   .limit(limit)))


def pending_for(customer_id: int) -> CustomerMerge | None:
    return db.session.scalar(select(CustomerMerge).where(
        CustomerMerge.status == MergeStatus.PENDING,
        or_(CustomerMerge.survivor_id == customer_id, CustomerMerge.absorbed_id == customer_id)))


def pending_for_flag(flag_id: int) -> CustomerMerge | None:
    return db.session.scalar(select(CustomerMerge).where(CustomerMerge.flag_id == flag_id,
                                                         CustomerMerge.status == MergeStatus.PENDING))


def absorbed_into(survivor_id: int) -> list[CustomerMerge]:
    """The approved merges that brought other records into this one, oldest first."""
    return list(db.session.scalars(select(CustomerMerge).where(
        CustomerMerge.survivor_id == survivor_id, CustomerMerge.status == MergeStatus.APPROVED)
        .order_by(CustomerMerge.decided_at, CustomerMerge.id)))


def on_the_page_of(customer_id: int) -> tuple[list[CustomerMerge], CustomerMerge | None, CustomerMerge | None]:
    """In one query: the approved merges into this customer, the one it was merged by, a pending one on it."""
    rows = list(db.session.scalars(select(CustomerMerge).where(
        or_(CustomerMerge.survivor_id == customer_id, CustomerMerge.absorbed_id == customer_id),
        CustomerMerge.status.in_((MergeStatus.APPROVED, MergeStatus.PENDING)))
        .order_by(CustomerMerge.decided_at, CustomerMerge.id)))
    absorbed = [m for m in rows if m.status == MergeStatus.APPROVED and m.survivor_id == customer_id]
    into = next((m for m in rows if m.status == MergeStatus.APPROVED and m.absorbed_id == customer_id), None)
    pending = next((m for m in rows if m.status == MergeStatus.PENDING), None)
    return absorbed, into, pending


# -- what each record holds (shown beside the choice of which one carries on)

def holdings(customer: Customer) -> dict:
    return {
        "fund_accounts": _count(select(FundAccount).where(FundAccount.customer_id == customer.id)),
        "live_accounts": _count(select(FundAccount).where(FundAccount.customer_id == customer.id,
                                                          FundAccount.status.in_(LIVE))),
        "profile_versions": customer.profile_version,
        "changes": _count(select(CustomerChange).where(CustomerChange.customer_id == customer.id)),
        "service_records": _count(select(ServiceRecord).where(ServiceRecord.customer_id == customer.id)),
    }


# -- the conditions

def _count(query) -> int:
    return db.session.scalar(query.with_only_columns(func.count())) or 0


def blockers(survivor: Customer, absorbed: Customer, *, except_merge: int | None = None) -> list[str]:
    """Why the absorbed record cannot be merged into the survivor now, each in Chinese; empty when it can."""
    found: list[str] = []
    if survivor.id == absorbed.id:
        return ["保留客户与被合并客户不能是同一客户"]
    if survivor.kind in ENDED:
        found.append(f"保留客户 {survivor.customer_no} 已销户或已被合并，不能作为保留客户，请选另一份档案保留")
    if absorbed.kind == CustomerKind.MERGED:
        found.append(f"客户 {absorbed.customer_no} 已并入其他客户")
    elif _count(select(FundAccount).where(FundAccount.customer_id == absorbed.id, FundAccount.status.in_(LIVE))) \
            or _count(select(SecuritiesAccount).where(SecuritiesAccount.customer_id == absorbed.id,
                                                      SecuritiesAccount.status.in_(LIVE))):
        found.append(f"被合并客户 {absorbed.customer_no} 名下仍有未注销的账户：一人一户，请先为其办理销户，"
                     "或改选该客户为保留客户")
    elif absorbed.kind not in MERGEABLE_KINDS:
        found.append(f"被合并客户 {absorbed.customer_no} 是现有客户：请先为其办理销户，或改选该客户为保留客户")
    if absorbed_into(absorbed.id):
        found.append(f"客户 {absorbed.customer_no} 已合并过其他客户档案，请将其作为保留客户")
    changes = _count(select(CustomerChange).where(CustomerChange.customer_id == absorbed.id,
                                                  CustomerChange.status.in_(CHANGE_OPEN)))
    if changes:
        found.append(f"被合并客户有 {changes} 笔未完成的资料变更，请办结或撤销后再合并")
    open_service = _count(select(ServiceRecord).where(ServiceRecord.customer_id == absorbed.id,
                                                      ServiceRecord.status != ServiceStatus.CLOSED))
    if open_service:
        found.append(f"被合并客户有 {open_service} 条未办结的服务记录（含投诉），请办结后再合并")
    if managers.pending_item_of(absorbed.id) is not None or managers.scheduled_for(absorbed.id) is not None:
        found.append("被合并客户有待审核或待生效的客户经理移交，请待其生效或撤回后再合并")
    for customer in (survivor, absorbed):
        other = pending_for(customer.id)
        if other is not None and other.id != except_merge:
            found.append(f"客户 {customer.customer_no} 已在合并业务 {other.reference} 中，待其复核或撤回后再办理")
    return found


# -- entry

def _new_reference() -> str:
    stamp = to_beijing(utcnow()).strftime("%Y%m%d")
    while True:
        reference = f"HB{stamp}{secrets.randbelow(10**6):06d}"
        if not db.session.scalar(select(func.count()).where(CustomerMerge.reference == reference)):
            return reference


def pair_of(flag: DuplicateFlag) -> tuple[Customer, Customer]:
    by_id = customers.customers_by_id([flag.customer_id, flag.other_customer_id])
    return by_id[flag.customer_id], by_id[flag.other_customer_id]


def suggested_survivor(first: Customer, second: Customer) -> Customer:
    """The record to keep unless the manager chooses otherwise: the one holding accounts, else the older."""
    rank = {CustomerKind.CURRENT: 0, CustomerKind.POTENTIAL: 1, CustomerKind.LOST: 2}
    return min((first, second), key=lambda c: (rank.get(c.kind, 3), c.created_at, c.id))


def propose(actor: Staff, flag: DuplicateFlag, *, survivor_id: int, reason: str, client_token: str) -> CustomerMerge:
    """Enter a merge of a pair found to be one person, for a reviewer to decide."""
    existing = made_with(CustomerMerge, client_token, actor.id, maker="requested_by_id")
    if existing is not None:
        return existing
    if actor.role not in REQUEST_ROLES:
        raise MergeRefused("只有营业部负责人或总部管理员可以发起客户合并", 403)
    if flag.status != DuplicateStatus.SAME_PERSON:
        raise MergeRefused("只有核实为同一人的疑似重复客户才能办理合并")
    first, second = pair_of(flag)
    if survivor_id not in (first.id, second.id):
        raise MergeRefused("请选择保留哪一份客户档案", 422)
    survivor, absorbed = (first, second) if survivor_id == first.id else (second, first)
    if not (in_scope(actor, survivor) and in_scope(actor, absorbed)):
        raise MergeRefused("两份档案不都在本营业部，须由总部办理", 403)
    refusals = blockers(survivor, absorbed)
    if refusals:
        earlier = pending_for_flag(flag.id)
        if earlier is not None:  # another manager entered this pair first, a moment ago: led to theirs
            return earlier
        raise MergeRefused("；".join(refusals))
    merge = CustomerMerge(reference=_new_reference(), client_token=client_token, flag_id=flag.id,
                          survivor_id=survivor.id, absorbed_id=absorbed.id, branch_id=survivor.branch_id,
                          cross_branch=survivor.branch_id != absorbed.branch_id, status=MergeStatus.PENDING,
                          reason=reason[:500], requested_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(merge)
            db.session.flush()
    except IntegrityError:
        same = made_with(CustomerMerge, client_token, actor.id, maker="requested_by_id")
        if same is not None:
            return same
        # Another manager entered this pair a moment earlier: theirs stands, and this one is led to it.
        first_entered = pending_for_flag(flag.id)
        if first_entered is not None:
            return first_entered
        other = pending_for(absorbed.id)
        raise MergeRefused(f"客户 {absorbed.customer_no} 已在合并业务 {other.reference if other else ''} 中") from None
    audit.record("customer.merge.submit", "customer_merge", merge.reference, survivor=survivor.customer_no,
                 absorbed=absorbed.customer_no, flag=flag.id)
    return merge


# -- the decision

def reviewer_refusal(merge: CustomerMerge, user: Staff) -> str | None:
    """Why `user` may not decide this merge, or None: a reviewer of its branch (HQ's across branches), not its maker."""
    refusal = checker_refusal(user, maker_ids={merge.requested_by_id}, branch_id=merge.branch_id, business=BUSINESS)
    if refusal is None and merge.cross_branch and not user.sees_all_branches:
        refusal = "两份档案分属不同营业部，须由总部复核岗复核"
    return refusal


def can_decide(merge: CustomerMerge, user: Staff) -> bool:
    return merge.status == MergeStatus.PENDING and reviewer_refusal(merge, user) is None


def _move(merge: CustomerMerge, target: MergeStatus) -> None:
    if target not in TRANSITIONS[MergeStatus(merge.status)]:
        raise MergeRefused(f"该合并业务{merge.status_label}，不能再处理")
    merge.status = target


def approve(merge: CustomerMerge, reviewer: Staff, note: str = "") -> None:
    """Merge: the absorbed record becomes "merged" into the survivor; both keep everything they hold."""
    refusal = reviewer_refusal(merge, reviewer)
    if refusal:
        raise MergeRefused(refusal, 403)
    _move(merge, MergeStatus.APPROVED)
    # Locked and read afresh: nothing may open on either record between the check and the merge.
    survivor = db.session.get(Customer, merge.survivor_id, with_for_update={"of": Customer}, populate_existing=True)
    absorbed = db.session.get(Customer, merge.absorbed_id, with_for_update={"of": Customer}, populate_existing=True)
    refusals = blockers(survivor, absorbed, except_merge=merge.id)
    if refusals:
        raise MergeRefused("现在不能合并：" + "；".join(refusals) + "。可退回该业务。")
    merge.absorbed_kind_before = absorbed.kind
    customers.change_kind(absorbed, CustomerKind.MERGED, reviewer,
                          f"合并业务 {merge.reference} 复核通过，并入客户 {survivor.customer_no}")
    absorbed.merged_into_id = survivor.id
    current = managers.manager_of(absorbed.id)
    if current is not None and current.effective_to is None:
        current.effective_to = managers.today()
    if merge.flag_id is not None:
        flag = db.session.get(DuplicateFlag, merge.flag_id)
        flag.status = DuplicateStatus.MERGED
    carry_keys(survivor.id)
    merge.reviewer_id, merge.decided_at, merge.decision_note = reviewer.id, utcnow(), (note or None)
    db.session.flush()
    audit.record("customer.merge.approve", "customer_merge", merge.reference, survivor=survivor.customer_no,
                 absorbed=absorbed.customer_no)


def reject(merge: CustomerMerge, reviewer: Staff, note: str) -> None:
    refusal = reviewer_refusal(merge, reviewer)
    if refusal:
        raise MergeRefused(refusal, 403)
    _move(merge, MergeStatus.REJECTED)
    merge.reviewer_id, merge.decided_at, merge.decision_note = reviewer.id, utcnow(), note[:500]
    db.session.flush()
    audit.record("customer.merge.reject", "customer_merge", merge.reference, reason=note[:200])


def withdraw(merge: CustomerMerge, actor: Staff, note: str) -> None:
    if actor.id != merge.requested_by_id:
        raise MergeRefused("只有发起人可以撤回合并业务", 403)
    _move(merge, MergeStatus.WITHDRAWN)
    merge.decided_at, merge.decision_note = utcnow(), note[:500]
    db.session.flush()
    audit.record("customer.merge.withdraw", "customer_merge", merge.reference, reason=note[:200])


# -- the survivor finds the absorbed record's keys too

def carry_keys(survivor_id: int) -> int:
    """Give the survivor the search keys of every record merged into it (its old ID number, mobile, name)."""
    absorbed_ids = select(Customer.id).where(Customer.merged_into_id == survivor_id)
    profiles = list(db.session.scalars(customers.current_profiles().where(CustomerProfile.customer_id.in_(absorbed_ids))))
    if not profiles:
        return 0
    have = set(db.session.execute(select(CustomerSearchKey.kind, CustomerSearchKey.value)
                                  .where(CustomerSearchKey.customer_id == survivor_id)).all())
    wanted = sorted({key for profile in profiles for key in search.keys_of(profile)} - have)
    for kind, value in wanted:
        db.session.add(CustomerSearchKey(customer_id=survivor_id, kind=kind, value=value))
    db.session.flush()
    return len(wanted)


@customers.on_profile_version
def _survivor_reindexed(customer: Customer, _profile) -> None:
    # Registered after the search package's listener, which replaces the keys by the new profile's.
    carry_keys(customer.id)


@search.after_reindex
def _survivors_reindexed(customer_ids: list[int]) -> None:
    # A rebuild of every key gives each survivor back the keys of the records merged into it.
    survivors = db.session.scalars(select(Customer.merged_into_id).distinct()
                                   .where(Customer.merged_into_id.in_(customer_ids)))
    for survivor_id in survivors:
        carry_keys(survivor_id)
