"""Entering a potential customer (登记潜在客户) at the branch, before any account exists."""
import secrets

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.customers.models import CustomerKind
from blueprints.prospects import services
from blueprints.prospects.forms import ProspectEditForm, ProspectForm
from core import audit
from core.masking import mask_id_number, mask_mobile
from core.render import error_response, page, see_other
from core.roles import Role
from core.security import roles_required, sees_full_id

bp = Blueprint("prospects", __name__, url_prefix="/prospects")

ENTRY_ROLES = (Role.CLERK, Role.BRANCH_MANAGER)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*ENTRY_ROLES)
def new():
    """Enter a potential customer: name, ID type and number, mobile, source, notes."""
    form = ProspectForm()
    if not form.is_submitted():
        form.client_token.data = secrets.token_urlsafe(24)
        return page("prospects/new.html", form=form)
    if not form.validate():
        return page("prospects/new.html", block="entry", form=form, status=422)
    try:
        customer = services.enter(current_user, name=form.name.data, id_type=form.id_type.data,
                                  id_number=form.id_number.data, mobile=form.mobile.data, source=form.source.data,
                                  notes=form.notes.data, client_token=form.client_token.data or secrets.token_urlsafe(24))
    except services.ProspectRefused as refused:
        target = getattr(form, refused.field)
        target.errors = list(target.errors) + [str(refused)]
        return page("prospects/new.html", block="entry", form=form, status=422)
    flash(f"已登记潜在客户，客户号 {customer.customer_no}；客户开户复核通过后自动转为现有客户。", "success")
    return see_other(url_for("customers.detail", customer_no=customer.customer_no))


@bp.route("/<customer_no>/edit", methods=["GET", "POST"])
@roles_required(*ENTRY_ROLES)
def edit(customer_no: str):
    """Correct a potential customer's entry (a typo in the name, another mobile) before any account exists."""
    customer = customer_services.find_visible(current_user, customer_no)
    if customer is None:
        abort(404)
    if customer.kind != CustomerKind.POTENTIAL:
        return _not_a_prospect(customer)
    full = sees_full_id(current_user)
    form = ProspectEditForm()
    if not form.is_submitted():
        entry = services.entry_of(customer.id)
        profile = customer.profile
        form.name.data, form.id_type.data = profile.name, profile.id_type
        form.id_number.data = profile.id_number if full else ""
        form.mobile.data = profile.mobile if full else ""
        form.source.data, form.notes.data = (entry.source, entry.notes) if entry else ("other", None)
        form.profile_version.data = customer.profile_version
        audit.record("customer.prospect_view", "customer", customer.customer_no)
        return _edit_page(customer, form, full)
    if not form.validate():
        return _edit_page(customer, form, full, status=422)
    keep = not full  # an empty number or mobile from a role that was not shown them keeps the one on record
    try:
        changed = services.correct(
            current_user, customer, expected_version=_int(form.profile_version.data), name=form.name.data,
            id_type=form.id_type.data, id_number=(form.id_number.data or None) if keep else (form.id_number.data or ""),
            mobile=(form.mobile.data or customer.profile.mobile) if keep else form.mobile.data,
            source=form.source.data, notes=form.notes.data)
    except services.ProspectStale:
        return error_response(409, "资料已被修改", "该潜在客户的资料刚被他人修改或已开户，请返回客户页面查看后再改（您本次的输入未保存）。")
    except services.ProspectRefused as refused:
        target = getattr(form, refused.field)
        target.errors = list(target.errors) + [str(refused)]
        return _edit_page(customer, form, full, status=422)
    if changed == []:
        flash("资料没有变化，未作修改。", "info")
    else:  # changed now, or by this same form a moment ago (a double click)
        flash("潜在客户资料已更正。", "success")
    return see_other(url_for("customers.detail", customer_no=customer.customer_no))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _not_a_prospect(customer):
    return error_response(409, "不能在此修改", f"客户 {customer.customer_no} 已不是潜在客户，资料修改请办理资料变更。")


def _edit_page(customer, form, full: bool, status: int = 200):
    profile = customer.profile
    return page("prospects/edit.html", block="entry", status=status, form=form,
                customer=customer, full=full, id_hint=None if full else f"当前 {mask_id_number(profile.id_number)}，如需更正请完整输入；留空则不变",
                mobile_hint=None if full else (f"当前 {mask_mobile(profile.mobile)}，留空则不变" if profile.mobile else "留空则不填"))


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    entry = services.entry_of(customer.id) if customer.kind in (CustomerKind.POTENTIAL, CustomerKind.CURRENT) else None
    return {"prospect_entry": entry, "can_enter_prospect": user.role in ENTRY_ROLES}
