"""Merge pages: entering a merge from a pair found to be one person, the list, one merge and its review."""
import secrets

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from blueprints.auth.models import Branch
from blueprints.auth.services import full_names
from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.customers.models import KIND_LABELS, Customer
from blueprints.merges import services
from blueprints.merges.forms import DecisionForm, MergeForm, WithdrawForm
from blueprints.merges.models import STATUS_LABELS, CustomerMerge, MergeStatus
from blueprints.search import duplicates
from core import audit
from core.extensions import db
from core.idempotency import made_with
from core.reference import ID_TYPE_LABELS
from core.render import in_place, page, see_other
from core.roles import Role
from core.security import roles_required, sees_full_id

bp = Blueprint("merges", __name__, url_prefix="/merges")


def _names(ids) -> dict[int, str]:
    return full_names(ids)


def _branch_names(customers) -> dict[int, str]:
    ids = {c.branch_id for c in customers}
    return dict(db.session.execute(db.select(Branch.id, Branch.name).where(Branch.id.in_(ids))).all())


def _records(pair) -> dict:
    """What the pages show of each record: its facts, branch, counts of what it holds."""
    return {"records": pair, "branches": _branch_names(pair), "holdings": {c.id: services.holdings(c) for c in pair},
            "kind_labels": KIND_LABELS, "id_type_labels": ID_TYPE_LABELS, "full_id": sees_full_id(current_user)}


def _flag_or_404(flag_id: int):
    flag = duplicates.visible_flag(current_user, flag_id)
    if flag is None:
        abort(404)
    return flag


def _entry_page(flag, form, status=200, refused=None):
    first, second = services.pair_of(flag)
    form.survivor.choices = [SelectChoice(c.id, c.customer_no) for c in (first, second)]
    options = {keep.id: services.blockers(keep, other) for keep, other in ((first, second), (second, first))}
    response = page("merges/new.html", status=status, flag=flag, form=form, refused=refused, options=options,
                    **_records((first, second)))
    return in_place(response, "#merge-entry") if status in (403, 409) else response


@bp.route("/new/<int:flag_id>", methods=["GET", "POST"])
@roles_required(*services.REQUEST_ROLES)
def new(flag_id: int):
    """Enter the merge of a flagged pair found to be one person: which record carries on, and why."""
    flag = _flag_or_404(flag_id)
    if request.method == "POST":  # a token from another staff member's form is refused before anything is named
        made_with(CustomerMerge, request.form.get("client_token"), current_user.id, maker="requested_by_id")
    pending = services.pending_for_flag(flag.id)
    if pending is not None:
        if request.method == "POST" and request.form.get("client_token") != pending.client_token:
            flash(f"这两份档案已有合并业务 {pending.reference} 待复核，未重复提交。", "info")
        return see_other(url_for("merges.detail", reference=pending.reference))
    form = MergeForm()
    if request.method == "GET":
        first, second = services.pair_of(flag)
        form.client_token.data = secrets.token_urlsafe(24)
        form.survivor.data = services.suggested_survivor(first, second).id
        audit.record("customer.merge.entry", "customer_duplicate_flag", flag.id)
        return _entry_page(flag, form)
    first, second = services.pair_of(flag)
    form.survivor.choices = [SelectChoice(c.id, c.customer_no) for c in (first, second)]
    if not form.validate():
        return _entry_page(flag, form, status=422)
    try:
        merge = services.propose(current_user, flag, survivor_id=form.survivor.data, reason=form.reason.data.strip(),
                                 client_token=form.client_token.data)
    except services.MergeRefused as error:
        return _entry_page(flag, form, status=error.status, refused=str(error))
    if merge.client_token != form.client_token.data:
        flash(f"这两份档案已有合并业务 {merge.reference} 待复核，未重复提交。", "info")
    else:
        flash(f"合并业务 {merge.reference} 已提交，待复核岗复核。", "success")
    return see_other(url_for("merges.detail", reference=merge.reference))


@bp.route("/")
@roles_required(*services.VIEW_ROLES)
def index():
    """List the merges I may see, newest first (?status= one state)."""
    status = request.args.get("status") or None
    if status not in (None, *[s.value for s in MergeStatus]):
        abort(400)
    rows = services.merges_for(current_user, status)
    by_id = customer_services.customers_by_id({m.survivor_id for m in rows} | {m.absorbed_id for m in rows})
    audit.record("customer.merge.list", None, None, status=status, rows=len(rows))
    return page("merges/index.html", rows=rows, status=status, customers=by_id, status_labels=STATUS_LABELS,
                names=_names(m.requested_by_id for m in rows), full_id=sees_full_id(current_user))


def _merge_or_404(reference: str, for_update: bool = False):
    merge = services.find(current_user, reference, for_update=for_update)
    if merge is None:
        abort(404)
    return merge


def _detail_page(merge, status=200, decision_form=None, withdraw_form=None, refused=None):
    by_id = customer_services.customers_by_id([merge.survivor_id, merge.absorbed_id])
    survivor, absorbed = by_id[merge.survivor_id], by_id[merge.absorbed_id]
    blocking = services.blockers(survivor, absorbed, except_merge=merge.id) if merge.status == MergeStatus.PENDING else []
    response = page("merges/detail.html", status=status, merge=merge, survivor=survivor, absorbed=absorbed,
                    blocking=blocking, refused=refused, decision_form=decision_form or DecisionForm(),
                    withdraw_form=withdraw_form or WithdrawForm(), can_decide=services.can_decide(merge, current_user),
                    decide_refusal=services.reviewer_refusal(merge, current_user),
                    can_withdraw=merge.status == MergeStatus.PENDING and merge.requested_by_id == current_user.id,
                    names=_names([merge.requested_by_id, merge.reviewer_id]), status_labels=STATUS_LABELS,
                    **_records((survivor, absorbed)))
    return in_place(response, "#merge-detail") if status in (403, 409) else response


@bp.route("/<reference>")
@roles_required(*services.VIEW_ROLES)
def detail(reference: str):
    """Show one merge: the two records, what stands in its way, its review."""
    merge = _merge_or_404(reference)
    audit.record("customer.merge.view", "customer_merge", merge.reference)
    return _detail_page(merge)


@bp.route("/<reference>/decide", methods=["POST"])
@roles_required(Role.REVIEWER)
def decide(reference: str):
    """Approve (merge) or send back a pending merge: a reviewer who did not enter it."""
    merge = _merge_or_404(reference, for_update=True)
    form = DecisionForm()
    if not form.validate():
        return _detail_page(merge, status=422, decision_form=form)
    if merge.status != MergeStatus.PENDING:
        # A second click, or another reviewer first: the decision on record stands.
        return _detail_page(merge, status=409, refused=f"该合并业务{merge.status_label}，不能再复核。")
    try:
        if form.decision.data == "approve":
            services.approve(merge, current_user, (form.note.data or "").strip())
            flash(f"合并业务 {merge.reference} 复核通过：两份档案已合并。", "success")
        else:
            services.reject(merge, current_user, form.note.data.strip())
            flash(f"合并业务 {merge.reference} 已退回。", "success")
    except services.MergeRefused as error:
        db.session.rollback()
        return _detail_page(_merge_or_404(reference), status=error.status, decision_form=form, refused=str(error))
    return see_other(url_for("merges.detail", reference=merge.reference))


@bp.route("/<reference>/withdraw", methods=["POST"])
@roles_required(*services.REQUEST_ROLES)
def withdraw(reference: str):
    """Withdraw my pending merge, saying why."""
    merge = _merge_or_404(reference, for_update=True)
    form = WithdrawForm()
    if not form.validate():
        return _detail_page(merge, status=422, withdraw_form=form)
    try:
        services.withdraw(merge, current_user, form.note.data.strip())
    except services.MergeRefused as error:
        return _detail_page(merge, status=error.status, withdraw_form=form, refused=str(error))
    flash(f"合并业务 {merge.reference} 已撤回。", "success")
    return see_other(url_for("merges.detail", reference=merge.reference))


@customer_page.contributes
def _on_the_customer_page(customer: Customer, user) -> dict:
    """The records merged into this customer, the one it was merged into, a merge pending on it."""
    absorbed, into, pending = services.on_the_page_of(customer.id)
    if not (absorbed or into or pending):
        return {}
    by_id = customer_services.customers_by_id({m.absorbed_id for m in absorbed}
                                              | ({into.survivor_id} if into else set()))
    return {"merge_panel": {"absorbed": [(m, by_id[m.absorbed_id]) for m in absorbed],
                            "into": (into, by_id[into.survivor_id]) if into else None, "pending": pending,
                            "may_view_merges": user.role in services.VIEW_ROLES}}
