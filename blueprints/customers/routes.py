"""Customer pages: one customer with their accounts (the list is added from the search package)."""
from flask import Blueprint, abort
from flask_login import current_user

from blueprints.customers import page as page_parts
from blueprints.customers import services
from blueprints.customers.models import KIND_LABELS
from core import audit, choices
from core.reference import ID_TYPE_LABELS
from core.render import page
from core.roles import Role
from core.security import roles_required, sees_full_id
from core.timeutil import business_today

bp = Blueprint("customers", __name__, url_prefix="/customers")

# Customer managers and brokers are admitted too, and see only the customers assigned to them (services.visible).
CUSTOMER_ROLES = (Role.CLERK, Role.REVIEWER, Role.RETURN_VISIT, Role.BRANCH_MANAGER, Role.HQ_ADMIN,
                  Role.CUSTOMER_MANAGER, Role.BROKER)


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


def _detail_page(customer, merged_into=None):
    return page("customers/detail.html", customer=customer, profile=customer.profile,
                id_documents=services.id_documents(customer), versions=services.profile_versions(customer),
                kind_changes=services.kind_changes(customer), staff_names=services.staff_names_of(customer),
                **page_parts.contributions(customer, current_user), merged_into=merged_into,
                today=business_today(), home_branch=services.branch(customer.branch_id),
                show_full_id=sees_full_id(current_user), kind_labels=KIND_LABELS, choices=choices,
                id_type_labels=ID_TYPE_LABELS)
