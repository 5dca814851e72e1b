"""The customer list's pages: filters, keyset pages, saved filters and the Excel export, at /customers/.

They are added to the customers blueprint from here (see `listing` for why the list sits above
customers), so `url_for("customers.index")` keeps naming the list everywhere.
"""
from flask import abort, current_app, request, send_file, url_for
from flask_login import current_user

from blueprints.customers.models import KIND_LABELS
from blueprints.customers.routes import CUSTOMER_ROLES
from blueprints.customers.routes import bp
from blueprints.grading.rules import GRADE_LABELS
from blueprints.search import export, listing
from blueprints.search.forms import ID_EXPIRY_LABELS, CustomerListForm, SaveFilterForm
from core import audit
from core.render import error_response, in_place, page, see_other
from core.security import roles_required, sees_full_id
from core.timeutil import business_today


def _filter_form(data) -> CustomerListForm:
    return CustomerListForm(data, branches=listing.filter_branches(current_user), kinds=KIND_LABELS,
                            grades=GRADE_LABELS, managers=listing.filter_managers(current_user))


def _list_page(form: CustomerListForm, *, save_form: SaveFilterForm | None = None, status: int = 200,
               block: str | None = "rows"):
    """The list for `form`'s filters (an empty list and the messages when they are wrong)."""
    today = business_today()
    args = form.query_args()
    valid = not form.errors
    result = None
    if valid:
        result = listing.page(current_user, listing.Filters.from_form(form), request.args.get("after"), today)
        # The filters (codes, ids, dates) and what was shown, never a personal value.
        audit.record("customers.list", "customer", None, filters=args, rows=len(result.rows),
                     page="first" if result.first else "next")
    push = url_for("customers.index", **args, **({"after": request.args["after"]} if request.args.get("after") else {}))
    return page("customers/index.html", block=block, status=status, form=form, result=result, args=args,
                save_form=save_form or SaveFilterForm(), saved=listing.saved_filters(current_user),
                kind_labels=KIND_LABELS, grade_labels=GRADE_LABELS, expiry_labels=ID_EXPIRY_LABELS,
                today=today, can_export=current_user.role in listing.EXPORT_ROLES,
                push_url=push if valid else None)


@bp.route("/")
@roles_required(*CUSTOMER_ROLES)
def index():
    """List the customers the user may see, newest first, filtered; htmx swaps only the rows."""
    form = _filter_form(request.args)
    if not form.validate():
        # The messages belong next to the fields: htmx swaps the form with the rows this time.
        return in_place(_list_page(form, status=422, block="area"), "#customer-area")
    return _list_page(form)


@bp.route("/filters", methods=["POST"])
@roles_required(*CUSTOMER_ROLES)
def save_filter():
    """Keep the current filters under a name of the user's choosing."""
    form = _filter_form(request.form)
    save_form = SaveFilterForm()
    if not (form.validate() & save_form.validate()):
        return _list_page(form, save_form=save_form, status=422, block=None)
    try:
        saved = listing.save_filter(current_user, save_form.name.data, form.query_args())
    except listing.FilterNameTaken:
        save_form.name.errors.append("已有同名的常用筛选，请换一个名称")
        return _list_page(form, save_form=save_form, status=422, block=None)
    audit.record("customers.filter.save", "saved_customer_filter", saved.id, filters=saved.params)
    return see_other(url_for("customers.index", **saved.params))


@bp.route("/filters/<int:filter_id>/delete", methods=["POST"])
@roles_required(*CUSTOMER_ROLES)
def delete_filter(filter_id: int):
    """Delete one of the user's saved filters."""
    saved = listing.own_filter(current_user, filter_id)
    if saved is None:
        abort(404)
    # The CSRF token is checked before any view runs (CSRFProtect).
    audit.record("customers.filter.delete", "saved_customer_filter", saved.id)
    listing.delete_filter(saved)
    return see_other(url_for("customers.index"))


@bp.route("/export.xlsx")
@roles_required(*listing.EXPORT_ROLES)
def export_list():
    """Download every customer matching the filters as an Excel workbook, masked as the role requires."""
    form = _filter_form(request.args)
    if not form.validate():
        return _list_page(form, status=422, block=None)
    today = business_today()
    filters = listing.Filters.from_form(form)
    limit = current_app.config.get("CUSTOMER_EXPORT_LIMIT", listing.EXPORT_LIMIT)
    count = listing.export_count(current_user, filters, today, limit)
    if count > limit:
        audit.record("customers.export.refused", "customer", None, filters=form.query_args(), limit=limit)
        return error_response(422, "导出的客户过多",
                              f"符合条件的客户超过 {limit:,} 位，一次最多导出 {limit:,} 位，请缩小筛选范围后再导出。")
    full_id = sees_full_id(current_user)
    audit.record("customers.export", "customer", None, filters=form.query_args(), rows=count, full_id=full_id)
    body = export.customer_workbook(listing.export_rows(current_user, filters, today), full_id=full_id,
                                    kind_labels=KIND_LABELS, grade_labels=GRADE_LABELS)
    return send_file(body, mimetype=export.MIME, as_attachment=True,
                     download_name=f"客户名单-{today:%Y%m%d}.xlsx")
