"""Entering a potential customer (登记潜在客户) at the branch, before any account exists."""
import secrets

from flask import Blueprint, flash, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers.models import CustomerKind
from blueprints.prospects import services
from blueprints.prospects.forms import ProspectForm
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required

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


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    entry = services.entry_of(customer.id) if customer.kind in (CustomerKind.POTENTIAL, CustomerKind.CURRENT) else None
    return {"prospect_entry": entry, "can_enter_prospect": user.role in ENTRY_ROLES}
