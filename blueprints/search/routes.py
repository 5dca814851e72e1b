"""Finding customers: the header box's suggestions, the full results page, flagged duplicates."""
from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from blueprints.customers.models import KIND_LABELS
from blueprints.customers.routes import CUSTOMER_ROLES
from blueprints.search import duplicates, services
from blueprints.search import kept as kept_searches
from blueprints.search.keys import KEY_LABELS, parse_query
from blueprints.search.forms import DuplicateReviewForm
from blueprints.search.models import DUPLICATE_STATUS_LABELS, DuplicateStatus
from core import audit
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required, sees_full_id

bp = Blueprint("search", __name__, url_prefix="/search")

DUPLICATE_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)


def _audit(query, result, surface: str) -> None:
    # The key type and the count, never the typed value: it may be an ID number, a phone or a name.
    audit.record("customer.search", "customer", None, surface=surface, key_type=query.key_type,
                 hits=len(result.hits), more=result.more)


def _context(query, result, **extra) -> dict:
    return {"query": query, "result": result, "full_id": sees_full_id(current_user), "kind_labels": KIND_LABELS,
            "key_labels": KEY_LABELS, **extra}


@bp.route("/suggest", methods=["POST"])
@roles_required(*CUSTOMER_ROLES)
def suggest():
    """Answer the header search box as the user types: the first matches and what they matched."""
    query = parse_query(request.form.get("q", ""))
    if query is None:
        return page("search/_dropdown.html", query=None, result=None)
    result = services.find(current_user, query)
    _audit(query, result, "header")
    return page("search/_dropdown.html", **_context(query, result))


@bp.route("/results", methods=["GET", "POST"])
@roles_required(*CUSTOMER_ROLES)
def results():
    """Show every match of a query, a page at a time by keyset.

    The query is posted, then kept on the server: the results page's URL carries only the kept search's
    key, never the name, ID number or mobile typed, and reload, back and the next page still work.
    """
    if request.method == "POST":
        raw = request.form.get("q", "")
        query = parse_query(raw)
        after = services.Cursor.from_form(request.form)
        if query is not None and query.shape != "invalid":
            typed = {"q": raw, "after": after.as_form() if after else None}
            return see_other(url_for("search.results", s=kept_searches.keep(current_user, KEPT_SCOPE, typed)))
    else:
        typed = kept_searches.kept(current_user, KEPT_SCOPE, request.args.get("s"))
        raw = typed["q"] if typed else ""
        query = parse_query(raw)
        after = services.Cursor.from_form(typed["after"] or {}) if typed else None
        if request.args.get("s") and typed is None:
            return page("search/results.html", raw="", expired=True, **_context(None, None))
    if query is None:
        return page("search/results.html", raw=raw, **_context(None, None))
    result = services.find(current_user, query, limit=services.PAGE_SIZE, after=after)
    _audit(query, result, "results")
    status = 422 if query.shape == "invalid" else 200
    return page("search/results.html", status=status, raw=raw, page_after=after,
                **_context(query, result))


KEPT_SCOPE = "customer_search"


@bp.route("/duplicates")
@roles_required(*DUPLICATE_ROLES)
def duplicate_list():
    """List the flagged possible duplicates the user's branch (HQ: every branch) has to review."""
    status = request.args.get("status", DuplicateStatus.OPEN)
    if status not in DUPLICATE_STATUS_LABELS:
        status = DuplicateStatus.OPEN
    flags = duplicates.flags_for(current_user, status)
    audit.record("customer.duplicates.list", "customer", None, status=status, count=len(flags))
    return page("search/duplicates.html", flags=flags, shown_status=status, status_labels=DUPLICATE_STATUS_LABELS,
                form=DuplicateReviewForm(), full_id=sees_full_id(current_user), kind_labels=KIND_LABELS)


@bp.route("/duplicates/<int:flag_id>", methods=["POST"])
@roles_required(*DUPLICATE_ROLES)
def review_duplicate(flag_id: int):
    """Record whether a flagged pair is one person (a merge business follows) or two."""
    flag = duplicates.visible_flag(current_user, flag_id)
    if flag is None:
        abort(404)
    form = DuplicateReviewForm()
    if not form.validate():
        flags = duplicates.flags_for(current_user, DuplicateStatus.OPEN)
        return page("search/duplicates.html", status=422, flags=flags, shown_status=DuplicateStatus.OPEN,
                    status_labels=DUPLICATE_STATUS_LABELS, form=form, form_flag_id=flag_id,
                    full_id=sees_full_id(current_user), kind_labels=KIND_LABELS)
    if flag.status == DuplicateStatus.OPEN:  # a second submit of the same decision changes nothing
        duplicates.review(flag, current_user, DuplicateStatus(form.status.data), form.note.data.strip())
        audit.record("customer.duplicates.review", "customer_duplicate_flag", flag.id, status=form.status.data)
    return see_other(url_for("search.duplicate_list"))
