"""The audit trail page (审计日志) for HQ administrators and branch managers."""
from flask import Blueprint, request
from flask_login import current_user

from blueprints.audit_trail import labels, services
from blueprints.audit_trail.forms import TrailFilterForm
from blueprints.auth.services import full_names
from core import audit
from core.render import page
from core.roles import Role
from core.security import roles_required

bp = Blueprint("audit_trail", __name__, url_prefix="/audit")

DETAIL_SHOWN = 240  # characters of an entry's detail on the page


@bp.route("/")
@roles_required(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def index():
    """Who did what to which record, when and from where: reads, writes, logins, refusals (审计日志)."""
    form = TrailFilterForm(request.args, branches=services.branches_for(current_user))
    if not form.validate():
        return page("audit_trail/index.html", status=422, form=form, entries=None)
    filters = form.filters()
    found = services.trail_page(current_user, request.args.get("after"), **filters)
    # Reading the trail is itself on the trail: which filters, how many entries.
    audit.record("audit.trail_view", None, None, shown=len(found.rows), first_page=found.first,
                 filters=sorted(name for name, value in filters.items() if value))
    args = {name: value for name, value in request.args.items() if name != "after" and value}
    return page("audit_trail/index.html", block="trail_rows", form=form, page=found, entries=found.rows,
                branches=found.extra["branches"], staff_names=full_names(e.actor_id for e in found.rows), args=args,
                label=labels.label, detail_text=detail_text)


def detail_text(detail: dict | None) -> str:
    """An entry's detail as `key=value` pairs, cut to what a row holds (the entry keeps it all)."""
    if not detail:
        return ""
    text = "；".join(f"{key}={value}" for key, value in detail.items())
    return text if len(text) <= DETAIL_SHOWN else text[:DETAIL_SHOWN] + "…"
