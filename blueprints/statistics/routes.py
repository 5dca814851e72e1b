"""The statistics dashboard (统计) for branch managers and HQ, and its Excel exports."""
from flask import Blueprint, abort, make_response, request, url_for
from flask_login import current_user

from blueprints.statistics import services
from blueprints.statistics.export import MIME
from blueprints.statistics.figures import get
from blueprints.statistics.forms import DashboardForm
from core import audit
from core.render import in_place, page
from core.roles import Role
from core.security import roles_required
from core.timeutil import business_today

bp = Blueprint("statistics", __name__, url_prefix="/statistics")

STATISTICS_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)


def _form() -> DashboardForm:
    return DashboardForm(request.args, today=business_today(), branches=services.filter_branches(current_user))


@bp.route("/")
@roles_required(*STATISTICS_ROLES)
def dashboard():
    """Show every figure for the chosen period and branch; htmx swaps only the dashboard."""
    form = _form()
    if not form.validate():
        response = page("statistics/dashboard.html", block="dashboard", status=422, form=form, shown=None)
        return in_place(response, "#dashboard")
    selection = form.selection()
    shown = services.dashboard(current_user, selection)
    audit.record("statistics.view", None, None, **form.query_args())
    return page("statistics/dashboard.html", block="dashboard", form=form, shown=shown,
                scope=services.scope_label(current_user, selection),
                push_url=url_for("statistics.dashboard", **form.query_args()))


def _xlsx(body: bytes, filename: str):
    response = make_response(body)
    response.headers["Content-Type"] = MIME
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


@bp.route("/export.xlsx")
@roles_required(*STATISTICS_ROLES)
def export_all():
    """Download every figure of the dashboard as one workbook, a sheet per figure."""
    form = _form()
    if not form.validate():
        abort(400, "统计期或营业部有误，请在统计页面更正后再导出")
    selection = form.selection()
    figures = services.figures_for(selection)
    body = services.workbook(current_user, selection, figures)
    audit.record("statistics.export", "statistics", "dashboard", figures=[f.key for f in figures], **form.query_args())
    return _xlsx(body, f"statistics-{selection.start}-{selection.end}.xlsx")


@bp.route("/<key>.xlsx")
@roles_required(*STATISTICS_ROLES)
def export_figure(key: str):
    """Download one figure's table as a workbook."""
    figure = get(key)
    if figure is None:
        abort(404)
    form = _form()
    if not form.validate():
        abort(400, "统计期或营业部有误，请在统计页面更正后再导出")
    selection = form.selection()
    body = services.workbook(current_user, selection, [figure])
    audit.record("statistics.export", "statistics", figure.key, figures=[figure.key], **form.query_args())
    return _xlsx(body, f"statistics-{figure.key}-{selection.start}-{selection.end}.xlsx")
