"""Customer managers' pages: my customers, the branch's assignments, handovers and their review."""
import secrets

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.customers.models import KIND_LABELS
from blueprints.managers import services
from blueprints.managers.forms import AssignForm, DecisionForm, HandoverForm, WithdrawForm
from blueprints.managers.rules import KIND_LABELS as HANDOVER_KIND_LABELS
from blueprints.managers.rules import STATUS_LABELS, HandoverKind, HandoverRefused, HandoverStatus
from core import audit
from core.render import page, see_other
from core.roles import ROLES_SEEING_OWN_CUSTOMERS, Role
from core.security import roles_required

bp = Blueprint("managers", __name__, url_prefix="/managers")

VIEW_ROLES = (Role.CUSTOMER_MANAGER, Role.BROKER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)


@bp.route("/")
@roles_required(*VIEW_ROLES)
def index():
    """Show my customers (a manager) or the branch's managers, unassigned customers and handovers (branch manager)."""
    context = {}
    if current_user.role in ROLES_SEEING_OWN_CUSTOMERS:
        customers = services.customers_of(current_user.id)
        context.update(customers=customers, profiles=customer_services.profiles_of(c.id for c in customers))
    else:
        branch_id = None if current_user.sees_all_branches else current_user.branch_id
        staff = services.managers_in_branch(current_user.branch_id) if branch_id else []
        context.update(managers=staff, counts=services.counts_by_manager(branch_id),
                       unassigned=services.unassigned_customers(current_user),
                       pending=services.pending_for_review(current_user))
    handovers = services.handovers_for(current_user, limit=20)
    context.update(handovers=handovers, names=services.staff_names(
        [h.from_staff_id for h in handovers] + [h.requested_by_id for h in handovers]))
    audit.record("managers.list", None, None, customers=len(context.get("customers", [])))
    return page("managers/index.html", kind_labels=KIND_LABELS, status_labels=STATUS_LABELS,
                handover_kind_labels=HANDOVER_KIND_LABELS, today=services.today(), **context)


def _visible_customer(customer_no: str):
    customer = customer_services.find_visible(current_user, customer_no)
    if customer is None:
        abort(404)
    return customer


@bp.route("/assign/<customer_no>", methods=["GET", "POST"])
@roles_required(*services.REVIEW_ROLES)
def assign(customer_no: str):
    """Give an unassigned customer to a customer manager or broker of the branch."""
    customer = _visible_customer(customer_no)
    form = AssignForm()
    candidates = services.managers_in_branch(customer.branch_id)
    form.staff.choices = [(s.id, f"{s.full_name}（{s.role_label}）") for s in candidates]
    status, refused = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            staff = next((s for s in candidates if s.id == form.staff.data), None)
            if staff is None:
                form.staff.errors.append("请选择本营业部在岗的客户经理或证券经纪人")
            else:
                try:
                    services.assign(customer, staff, current_user, form.reason.data.strip())
                except HandoverRefused as error:
                    refused, status = str(error), error.status
                else:
                    flash(f"客户 {customer.customer_no} 已分配给 {staff.full_name}。", "success")
                    return see_other(url_for("customers.detail", customer_no=customer.customer_no))
        status = status if refused else 422
    return page("managers/assign.html", status=status, form=form, customer=customer, refused=refused,
                current=services.manager_of(customer.id))


def _handover_form_choices(form: HandoverForm) -> dict:
    """Fill the form's choices from the branch; return the staff the form may name."""
    if current_user.role in ROLES_SEEING_OWN_CUSTOMERS:
        givers = [current_user._get_current_object()]
    else:
        givers = services.managers_in_branch(None if current_user.sees_all_branches else current_user.branch_id)
    form.from_staff.choices = [(s.id, f"{s.full_name}（{s.role_label}）") for s in givers]
    wanted = form.from_staff.data if isinstance(form.from_staff.data, int) else request.args.get("from", type=int)
    giver = next((s for s in givers if s.id == wanted), givers[0] if len(givers) == 1 else None)
    if giver is not None:
        form.from_staff.data = giver.id
    customers = services.customers_of(giver.id) if giver else []
    successors = services.managers_in_branch(giver.branch_id, exclude=giver.id) if giver else []
    form.customers.choices = [(c.id, c.customer_no) for c in customers]
    form.successors.choices = [(s.id, f"{s.full_name}（{s.role_label}）") for s in successors]
    return {"giver": giver, "customers": customers, "successors": successors,
            "profiles": customer_services.profiles_of(c.id for c in customers)}


@bp.route("/handovers/new", methods=["GET", "POST"])
@roles_required(*services.REQUEST_ROLES)
def new_handover():
    """Ask for a handover of a manager's customers (chosen ones, or all on departure) from an effective date."""
    form = HandoverForm()
    if request.method == "GET":
        form.client_token.data = secrets.token_urlsafe(24)
        preset = request.args.get("customer", type=int)
        if preset:
            form.customers.data = [preset]
        if request.args.get("kind") == HandoverKind.DEPARTURE:
            form.kind.data = HandoverKind.DEPARTURE.value
    parts = _handover_form_choices(form)
    refused, status = None, 200
    if request.method == "POST":
        giver = parts["giver"]
        if giver is None:
            # The page then shows only the choice of giver, without the form's fields: say it above.
            refused, status = "请选择移交人", 422
        elif form.validate_on_submit():
            try:
                handover = services.request_handover(
                    current_user, from_staff=giver, kind=HandoverKind(form.kind.data), customer_ids=form.customers.data,
                    successor_ids=form.successors.data, effective_date=form.effective_date.data,
                    reason=form.reason.data.strip(), client_token=form.client_token.data)
            except HandoverRefused as error:
                refused, status = str(error), error.status
                if "生效日期" in refused:
                    form.effective_date.errors.append(refused)
                    refused = None
            else:
                flash(f"移交申请 {handover.reference} 已提交，待营业部负责人审核。", "success")
                return see_other(url_for("managers.handover", reference=handover.reference))
        else:
            status = 422
    return page("managers/handover_new.html", status=status, form=form, refused=refused, today=services.today(),
                kind_labels=HANDOVER_KIND_LABELS, **parts)


def _handover_or_404(reference: str):
    handover = services.find_handover(current_user, reference)
    if handover is None:
        abort(404)
    return handover


def _handover_page(handover, status=200, decision_form=None, withdraw_form=None, refused=None):
    customers = customer_services.customers_by_id(item.customer_id for item in handover.items)
    names = services.staff_names([handover.from_staff_id, handover.requested_by_id, handover.reviewer_id]
                                 + [item.to_staff_id for item in handover.items])
    return page("managers/handover.html", status=status, handover=handover, customers=customers, names=names,
                decision_form=decision_form or DecisionForm(), withdraw_form=withdraw_form or WithdrawForm(),
                can_review=services.can_review(handover, current_user),
                can_withdraw=handover.status == HandoverStatus.PENDING and handover.requested_by_id == current_user.id,
                refused=refused, status_labels=STATUS_LABELS, kind_labels=HANDOVER_KIND_LABELS,
                today=services.today())


@bp.route("/handovers/")
@roles_required(*VIEW_ROLES)
def handovers():
    """List the handovers I may see, newest first (pending only with ?status=pending)."""
    status = request.args.get("status")
    if status not in (None, "", *[s.value for s in HandoverStatus]):
        abort(400)
    rows = services.handovers_for(current_user, status or None)
    audit.record("handover.list", None, None, rows=len(rows))
    return page("managers/handovers.html", rows=rows, status=status,
                names=services.staff_names([h.from_staff_id for h in rows] + [h.requested_by_id for h in rows]),
                status_labels=STATUS_LABELS, kind_labels=HANDOVER_KIND_LABELS)


@bp.route("/handovers/<reference>")
@roles_required(*VIEW_ROLES)
def handover(reference: str):
    """Show one handover: who hands over which customers to whom, from when, and its review."""
    found = _handover_or_404(reference)
    audit.record("handover.view", "handover", found.reference)
    return _handover_page(found)


@bp.route("/handovers/<reference>/decide", methods=["POST"])
@roles_required(*services.REVIEW_ROLES)
def decide(reference: str):
    """Approve or send back a pending handover (a branch manager other than the one handing over)."""
    found = _handover_or_404(reference)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _handover_page(found, status=422, decision_form=form)
    try:
        if form.decision.data == "approve":
            services.approve(found, current_user, (form.note.data or "").strip())
            flash(f"移交 {found.reference} 已审核通过，自 {found.effective_date} 起生效。", "success")
        else:
            services.reject(found, current_user, form.note.data.strip())
            flash(f"移交 {found.reference} 已退回。", "success")
    except HandoverRefused as error:
        return _handover_page(found, status=error.status, decision_form=form, refused=str(error))
    return see_other(url_for("managers.handover", reference=found.reference))


@bp.route("/handovers/<reference>/withdraw", methods=["POST"])
@roles_required(*services.REQUEST_ROLES)
def withdraw(reference: str):
    """Withdraw my pending handover, saying why."""
    found = _handover_or_404(reference)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _handover_page(found, status=422, withdraw_form=form)
    try:
        services.withdraw(found, current_user, form.note.data.strip())
    except HandoverRefused as error:
        return _handover_page(found, status=error.status, withdraw_form=form, refused=str(error))
    flash(f"移交 {found.reference} 已撤回。", "success")
    return see_other(url_for("managers.handover", reference=found.reference))


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    """The customer's manager today, a handover scheduled or pending, and the assignment history."""
    history = services.history_of(customer.id)
    pending = services.pending_item_of(customer.id)
    pending_handover = services.handover_by_id(pending.handover_id) if pending else None
    current = services.manager_of(customer.id)
    return {"manager_panel": {
        "current": current, "history": history, "scheduled": services.scheduled_for(customer.id),
        "pending": pending_handover, "today": services.today(),
        "names": services.staff_names([a.staff_id for a in history] + [a.assigned_by_id for a in history]),
        "can_assign": user.role in services.REVIEW_ROLES and current is None and pending is None,
        "can_hand_over": current is not None and pending is None and user.role in services.REQUEST_ROLES
        and (user.role not in ROLES_SEEING_OWN_CUSTOMERS or current.staff_id == user.id),
    }}
