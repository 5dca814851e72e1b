"""Operations on assignments and handovers (they flush, the request commits), and the visibility they give."""
import secrets
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from blueprints.auth.services import full_names
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.managers import rules
from blueprints.managers.models import CustomerAssignment, Handover, HandoverItem
from blueprints.managers.rules import HandoverKind, HandoverRefused, HandoverStatus
from core import audit
from core.extensions import db
from core.idempotency import made_with
from core.roles import ROLES_SEEING_OWN_CUSTOMERS, Role
from core.timeutil import business_today, to_beijing, utcnow

# Who may assign an unassigned customer and review handovers: the branch manager (HQ for any branch).
REVIEW_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)
# Who may ask for a handover: the managers themselves for their own customers, the branch manager and HQ for anyone's.
REQUEST_ROLES = (Role.CUSTOMER_MANAGER, Role.BROKER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)


def today() -> date:
    """The business day assignments are read on (Beijing); one place, so tests can move it."""
    return business_today()


def current_assignments(on: date | None = None):
    """Select the assignments that hold on `on`."""
    on = on or today()
    return select(CustomerAssignment).where(
        CustomerAssignment.effective_from <= on,
        or_(CustomerAssignment.effective_to.is_(None), CustomerAssignment.effective_to > on))


def assigned_customer_ids(staff_id: int, on: date | None = None):
    """Select the ids of the customers assigned to this staff member on `on`."""
    return current_assignments(on).where(CustomerAssignment.staff_id == staff_id) \
        .with_only_columns(CustomerAssignment.customer_id)


@customer_services.only_visible
def _own_customers_only(user):
    """Customer managers and brokers see the customers assigned to them today, and nobody else's."""
    if getattr(user, "role", None) in ROLES_SEEING_OWN_CUSTOMERS:
        return assigned_customer_ids(user.id)
    return None


def manager_of(customer_id: int, on: date | None = None) -> CustomerAssignment | None:
    return db.session.scalar(current_assignments(on).where(CustomerAssignment.customer_id == customer_id))


def history_of(customer_id: int) -> list[CustomerAssignment]:
    return list(db.session.scalars(select(CustomerAssignment).where(CustomerAssignment.customer_id == customer_id)
                                   .order_by(CustomerAssignment.effective_from.desc(), CustomerAssignment.id.desc())))


def scheduled_for(customer_id: int) -> CustomerAssignment | None:
    """An approved handover of this customer that has not taken effect yet."""
    return db.session.scalar(select(CustomerAssignment).where(CustomerAssignment.customer_id == customer_id,
                                                              CustomerAssignment.effective_from > today()))


def pending_item_of(customer_id: int) -> HandoverItem | None:
    return db.session.scalar(select(HandoverItem).join(Handover, Handover.id == HandoverItem.handover_id)
                             .where(HandoverItem.customer_id == customer_id,
                                    Handover.status == HandoverStatus.PENDING))


def managers_in_branch(branch_id: int | None, *, exclude: int | None = None) -> list[Staff]:
    """The enabled customer managers and brokers of a branch (every branch for None): who can be assigned customers."""
    query = select(Staff).where(Staff.role.in_([r.value for r in ROLES_SEEING_OWN_CUSTOMERS]), Staff.is_enabled.is_(True))
    if branch_id is not None:
        query = query.where(Staff.branch_id == branch_id)
    if exclude is not None:
        query = query.where(Staff.id != exclude)
    return list(db.session.scalars(query.order_by(Staff.role, Staff.full_name, Staff.id)))


def staff_in_scope(user: Staff, staff_id: int | None) -> Staff | None:
    """A customer manager or broker `user` may act for: themselves, or anyone of the branch for a branch manager."""
    if staff_id is None:
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or staff.role not in ROLES_SEEING_OWN_CUSTOMERS:
        return None
    if user.role in ROLES_SEEING_OWN_CUSTOMERS:
        return staff if staff.id == user.id else None
    if user.sees_all_branches or staff.branch_id == user.branch_id:
        return staff
    return None


def customers_of(staff_id: int, on: date | None = None) -> list[Customer]:
    """The (non-historical) customers assigned to a staff member on `on`, by customer number."""
    return list(db.session.scalars(select(Customer).where(Customer.id.in_(assigned_customer_ids(staff_id, on)))
                                   .order_by(Customer.customer_no)))


def counts_by_manager(branch_id: int | None, on: date | None = None) -> dict[int, int]:
    query = current_assignments(on).with_only_columns(CustomerAssignment.staff_id, func.count()) \
        .group_by(CustomerAssignment.staff_id)
    if branch_id is not None:
        query = query.join(Staff, Staff.id == CustomerAssignment.staff_id).where(Staff.branch_id == branch_id)
    return dict(db.session.execute(query).all())


def unassigned_customers(user: Staff, limit: int = 50) -> list[Customer]:
    """The branch's customers (as `user` sees them) with nobody assigned today or later."""
    taken = select(CustomerAssignment.customer_id).where(
        or_(CustomerAssignment.effective_to.is_(None), CustomerAssignment.effective_to > today()))
    return list(db.session.scalars(customer_services.visible(user).where(Customer.id.not_in(taken))
                                   .order_by(Customer.customer_no).limit(limit)))


def _ensure_free(customer: Customer, *, except_handover: int | None = None) -> None:
    item = pending_item_of(customer.id)
    if item is not None and item.handover_id != except_handover:
        other = db.session.get(Handover, item.handover_id)
        raise HandoverRefused(f"客户 {customer.customer_no} 已在移交申请 {other.reference} 中，待其审核或撤回后再办理。", 409)
    later = scheduled_for(customer.id)
    if later is not None:
        raise HandoverRefused(f"客户 {customer.customer_no} 已有一笔将于 {later.effective_from} 生效的移交，生效后再办理。", 409)


def assign(customer: Customer, staff: Staff, actor: Staff, reason: str) -> CustomerAssignment:
    """Give an unassigned customer to a customer manager or broker from today (首次分配); a reassignment is a handover."""
    if staff.role not in ROLES_SEEING_OWN_CUSTOMERS or staff.branch_id != customer.branch_id or not staff.is_enabled:
        raise HandoverRefused("只能分配给本营业部在岗的客户经理或证券经纪人。")
    if manager_of(customer.id) is not None:
        raise HandoverRefused("该客户已有客户经理，更换须办理客户移交（经营业部负责人审核）。", 409)
    _ensure_free(customer)
    assignment = CustomerAssignment(customer_id=customer.id, staff_id=staff.id, effective_from=today(),
                                    reason=reason[:500], assigned_by_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    audit.record("assignment.create", "customer", customer.customer_no, staff=staff.username, reason=reason[:200])
    return assignment


def _new_reference() -> str:
    stamp = to_beijing(utcnow()).strftime("%Y%m%d")
    while True:
        reference = f"YJ{stamp}{secrets.randbelow(10**6):06d}"
        if not db.session.scalar(select(func.count()).where(Handover.reference == reference)):
            return reference


def handover_by_id(handover_id: int) -> Handover | None:
    return db.session.get(Handover, handover_id)


def find_handover(user: Staff, reference: str) -> Handover | None:
    """A handover `user` may see: HQ all, a branch manager the branch's, a manager those they hand over or take."""
    handover = db.session.scalar(select(Handover).where(Handover.reference == reference))
    if handover is None:
        return None
    if user.sees_all_branches:
        return handover
    if user.branch_id != handover.branch_id:
        return None
    if user.role in ROLES_SEEING_OWN_CUSTOMERS and user.id != handover.from_staff_id \
            and user.id not in {item.to_staff_id for item in handover.items} and user.id != handover.requested_by_id:
        return None
    return handover


def request_handover(actor: Staff, *, from_staff: Staff, kind: HandoverKind, customer_ids: list[int],
                     successor_ids: list[int], effective_date: date, reason: str, client_token: str) -> Handover:
    """Submit a handover for review: chosen customers to one successor, or on departure all of them shared out."""
    existing = made_with(Handover, client_token, actor.id, maker="requested_by_id")
    if existing is not None:
        return existing
    refusal = rules.check_effective_date(effective_date, today())
    if refusal:
        raise HandoverRefused(refusal)
    successors = [s for s in (db.session.get(Staff, i) for i in dict.fromkeys(successor_ids)) if s is not None]
    if not successors or len(successors) != len(set(successor_ids)):
        raise HandoverRefused("请选择接手的客户经理或证券经纪人")
    for successor in successors:
        if successor.id == from_staff.id:
            raise HandoverRefused("接手人不能是移交人本人")
        if successor.role not in ROLES_SEEING_OWN_CUSTOMERS or successor.branch_id != from_staff.branch_id \
                or not successor.is_enabled:
            raise HandoverRefused(f"{successor.full_name} 不是本营业部在岗的客户经理或证券经纪人")
    if kind == HandoverKind.SELECTED and len(successors) != 1:
        raise HandoverRefused("客户移交只能选一位接手人；离职移交可分给多位")
    own = customers_of(from_staff.id)
    if kind == HandoverKind.DEPARTURE:
        customers = own
    else:
        wanted = set(customer_ids)
        customers = [c for c in own if c.id in wanted]
        if len(customers) != len(wanted):
            raise HandoverRefused("所选客户中有不属于该客户经理的客户，请刷新后重选")
    if not customers:
        raise HandoverRefused("没有可移交的客户" if kind == HandoverKind.DEPARTURE else "请选择要移交的客户")
    for customer in customers:
        _ensure_free(customer)
    split = rules.split_among([c.id for c in customers], [s.id for s in successors])
    handover = Handover(reference=_new_reference(), client_token=client_token, kind=kind, branch_id=from_staff.branch_id,
                        from_staff_id=from_staff.id, effective_date=effective_date, reason=reason[:500],
                        status=HandoverStatus.PENDING, requested_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(handover)
            db.session.flush()
            for customer in customers:
                db.session.add(HandoverItem(handover_id=handover.id, customer_id=customer.id, to_staff_id=split[customer.id]))
            db.session.flush()
    except IntegrityError:
        same = made_with(Handover, client_token, actor.id, maker="requested_by_id")
        if same is not None:
            return same
        raise
    db.session.expire(handover, ["items"])
    audit.record("handover.submit", "handover", handover.reference, kind=str(kind), from_staff=from_staff.username,
                 customers=len(customers), successors=[s.username for s in successors],
                 effective_date=effective_date.isoformat())
    return handover


def approve(handover: Handover, reviewer: Staff, note: str = "") -> None:
    """Approve a handover: each customer's open assignment ends on the effective date and the successor's begins."""
    _check_reviewer(handover, reviewer)
    rules.check_transition(handover.status, HandoverStatus.APPROVED)
    refusal = rules.check_effective_date(handover.effective_date, today())
    if refusal:
        raise HandoverRefused(f"生效日期 {handover.effective_date} 已过，请退回后由申请人按新的日期重新提交。")
    # Every customer is checked before any assignment moves, so a refusal leaves nothing half done.
    moves = []
    for item in handover.items:
        customer = db.session.get(Customer, item.customer_id, with_for_update={"of": Customer})
        current = manager_of(item.customer_id)
        if current is None or current.staff_id != handover.from_staff_id or current.effective_to is not None:
            raise HandoverRefused(f"客户 {customer.customer_no} 已不属于移交人，请退回该移交。", 409)
        _ensure_free(customer, except_handover=handover.id)
        moves.append((item, current))
    for item, current in moves:
        current.effective_to = handover.effective_date
        db.session.add(CustomerAssignment(customer_id=item.customer_id, staff_id=item.to_staff_id,
                                          effective_from=handover.effective_date, reason=handover.reason,
                                          handover_id=handover.id, assigned_by_id=reviewer.id))
    handover.status = HandoverStatus.APPROVED
    handover.reviewer_id, handover.decided_at, handover.decision_note = reviewer.id, utcnow(), (note or None)
    db.session.flush()
    audit.record("handover.approve", "handover", handover.reference, customers=len(handover.items),
                 effective_date=handover.effective_date.isoformat())


def reject(handover: Handover, reviewer: Staff, note: str) -> None:
    _check_reviewer(handover, reviewer)
    rules.check_transition(handover.status, HandoverStatus.REJECTED)
    handover.status = HandoverStatus.REJECTED
    handover.reviewer_id, handover.decided_at, handover.decision_note = reviewer.id, utcnow(), note[:500]
    db.session.flush()
    audit.record("handover.reject", "handover", handover.reference, reason=note[:200])


def withdraw(handover: Handover, actor: Staff, note: str) -> None:
    if actor.id != handover.requested_by_id:
        raise HandoverRefused("只有提交人可以撤回移交申请", 403)
    rules.check_transition(handover.status, HandoverStatus.WITHDRAWN)
    handover.status = HandoverStatus.WITHDRAWN
    handover.decided_at, handover.decision_note = utcnow(), note[:500]
    db.session.flush()
    audit.record("handover.withdraw", "handover", handover.reference, reason=note[:200])


def can_review(handover: Handover, user: Staff) -> bool:
    return (handover.status == HandoverStatus.PENDING and user.role in REVIEW_ROLES
            and (user.sees_all_branches or user.branch_id == handover.branch_id)
            and rules.reviewer_refusal(reviewer_id=user.id, requested_by_id=handover.requested_by_id,
                                       from_staff_id=handover.from_staff_id) is None)


def _check_reviewer(handover: Handover, reviewer: Staff) -> None:
    if reviewer.role not in REVIEW_ROLES or not (reviewer.sees_all_branches or reviewer.branch_id == handover.branch_id):
        raise HandoverRefused("移交须由本营业部负责人审核", 403)
    refusal = rules.reviewer_refusal(reviewer_id=reviewer.id, requested_by_id=handover.requested_by_id,
                                     from_staff_id=handover.from_staff_id)
    if refusal:
        raise HandoverRefused(refusal, 403)


def handovers_for(user: Staff, status: str | None = None, limit: int = 100) -> list[Handover]:
    """The handovers `user` sees, newest first."""
    query = select(Handover)
    if not user.sees_all_branches:
        query = query.where(Handover.branch_id == user.branch_id)
    if user.role in ROLES_SEEING_OWN_CUSTOMERS:
        taking = select(HandoverItem.handover_id).where(HandoverItem.to_staff_id == user.id)
        query = query.where(or_(Handover.from_staff_id == user.id, Handover.requested_by_id == user.id,
                                Handover.id.in_(taking)))
    if status:
        query = query.where(Handover.status == status)
    return list(db.session.scalars(query.order_by(Handover.requested_at.desc(), Handover.id.desc()).limit(limit)))


def pending_for_review(user: Staff) -> list[Handover]:
    if user.role not in REVIEW_ROLES:
        return []
    return [h for h in handovers_for(user, HandoverStatus.PENDING) if can_review(h, user)]


def taking_effect(on: date, branch_id: int | None = None) -> list[Handover]:
    """Approved handovers whose effective date is `on` (for the daily report)."""
    query = select(Handover).where(Handover.status == HandoverStatus.APPROVED, Handover.effective_date == on)
    if branch_id is not None:
        query = query.where(Handover.branch_id == branch_id)
    return list(db.session.scalars(query.order_by(Handover.branch_id, Handover.reference)))


def staff_names(ids) -> dict[int, str]:
    return full_names(ids)
