"""Customer pages: one customer with their accounts (the list is added from the search package)."""
from flask import Blueprint, abort
from flask_login import current_user

from blueprints.customers import page as page_parts
from blueprints.customers import services
from blueprints.customers.models import KIND_LABELS
from core import audit, choices, reveal
from core.reference import ID_TYPE_LABELS
from core.render import page
from core.roles import ROLES_REVEALING, Role
from core.security import roles_required, sees_full_id
from core.timeutil import business_today

bp = Blueprint("customers", __name__, url_prefix="/customers")

# Customer managers and brokers are admitted too, and see only the customers assigned to them (services.visible).
CUSTOMER_ROLES = (Role.CLERK, Role.REVIEWER, Role.RETURN_VISIT, Role.BRANCH_MANAGER, Role.HQ_ADMIN,
                  Role.CUSTOMER_MANAGER, Role.BROKER)


# The profile's values a role may show in full (core.roles.ROLES_REVEALING), each from the current profile.
REVEALABLE = {"id_number": lambda customer: customer.profile.id_number,
              "mobile": lambda customer: customer.profile.mobile,
              "address": lambda customer: customer.profile.address}
REVEALING_ROLES = tuple(role for role in CUSTOMER_ROLES if any(role in ROLES_REVEALING[f] for f in REVEALABLE))

# The list at "/" (customers.index), its saved filters and export are added by blueprints/search/list_routes.py:
# they filter by grade and manager, which this package may not import.


@bp.route("/<customer_no>")
@roles_required(*CUSTOMER_ROLES)
def detail(customer_no: str):
    """Show one customer with their fund, securities and depository accounts."""
    customer = services.find_visible(current_user, customer_no)
    if customer is None:
        abort(404)
    audit.record("customer.view", "customer", customer.customer_no)
    return _detail_page(customer)


@bp.route("/<customer_no>/merged/<merged_no>")
@roles_required(*CUSTOMER_ROLES)
def merged_record(customer_no: str, merged_no: str):
    """Show, read only, a record merged into this customer: its whole history as it was kept."""
    customer = services.find_visible(current_user, customer_no)
    merged = services.merged_into(customer, merged_no) if customer is not None else None
    if merged is None:
        abort(404)
    audit.record("customer.view", "customer", merged.customer_no, through=customer.customer_no)
    return _detail_page(merged, merged_into=customer)


@bp.route("/<customer_no>/reveal/<field>", methods=["POST"])
@roles_required(*REVEALING_ROLES)
def reveal_value(customer_no: str, field: str):
    """Show one masked value of the customer in full (显示完整), in place of the masked one; the showing is audited."""
    customer = services.find_visible(current_user, customer_no)
    if customer is None or field not in REVEALABLE:
        abort(404)
    if not reveal.may_reveal(current_user, field):
        abort(403)
    if not reveal.RevealForm().validate_on_submit():
        abort(400)
    reveal.record_reveal(customer.customer_no, field)
    return _detail_page(customer, revealed=field, block=f"reveal_{field}")


def _detail_page(customer, merged_into=None, revealed: str | None = None, block: str | None = None):
    return page("customers/detail.html", block=block, customer=customer, profile=customer.profile,
                id_documents=services.id_documents(customer), versions=services.profile_versions(customer),
                kind_changes=services.kind_changes(customer), staff_names=services.staff_names_of(customer),
                **page_parts.contributions(customer, current_user), merged_into=merged_into,
                today=business_today(), home_branch=services.branch(customer.branch_id),
                show_full_id=sees_full_id(current_user), kind_labels=KIND_LABELS, choices=choices,
                id_type_labels=ID_TYPE_LABELS, revealed=revealed, reveal_form=reveal.RevealForm(formdata=None),
                can_reveal={f: reveal.may_reveal(current_user, f) and merged_into is None for f in REVEALABLE})
