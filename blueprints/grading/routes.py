"""Grading screens: imports with their progress and refused rows, the grade rules, recomputing grades."""
import csv
import io
import secrets
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, abort, current_app, flash, request, stream_with_context, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.grading import forms, imports, rules, services
from blueprints.grading import jobs as grading_jobs
from blueprints.grading.models import IMPORT_KIND_LABELS, GradeRule
from blueprints.grading.valuation import HOLDING_KIND_LABELS, METHOD_LABELS
from core import audit, jobs
from core.extensions import db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required

bp = Blueprint("grading", __name__, url_prefix="/grading")

IMPORT_ROLES = (Role.HQ_ADMIN, Role.BRANCH_MANAGER)
ERRORS_SHOWN = 200
RECOMPUTE_SUBJECT = ("grades", 0)  # every customer's grade


@bp.app_template_filter("yuan")
def yuan(value) -> str:
    """An amount with thousands separators, to the cent: 1,250,000.00."""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*IMPORT_ROLES)
def import_index():
    """Upload a holdings, prices, index or commissions file and list recent imports."""
    form = forms.ImportForm(imports.kinds_for(current_user))
    if request.method == "GET":
        form.client_token.data = secrets.token_urlsafe(16)
        return _imports_page(form)
    earlier = imports.job_for_token(current_user, form.client_token.data)
    if earlier is not None:
        return see_other(url_for("grading.import_status", job_id=earlier.id))  # a double submit: the same job
    if not form.validate_on_submit():
        return _imports_page(form, status=422)
    upload = form.file.data
    try:
        job = imports.start_import(current_user, form.kind.data, upload.filename, upload.stream,
                                   current_app.config["MAX_CONTENT_LENGTH"], client_token=form.client_token.data)
    except imports.ImportRefused as refused:
        form.file.errors.append(str(refused))
        return _imports_page(form, status=422)
    jobs.enqueue(grading_jobs.IMPORT, {"import_job_id": job.id}, subject=("import_job", job.id),
                 requested_by=current_user)
    return see_other(url_for("grading.import_status", job_id=job.id))


def _imports_page(form, status: int = 200):
    return page("grading/imports.html", status=status, form=form, jobs=imports.jobs_of(current_user),
                columns=imports.importing.COLUMNS, kinds=imports.kinds_for(current_user),
                kind_labels=IMPORT_KIND_LABELS)


@bp.route("/imports/<int:job_id>")
@roles_required(*IMPORT_ROLES)
def import_status(job_id: int):
    """Show an import's progress; htmx polls the progress block until it ends, then the refused rows."""
    job = _job(job_id)
    errors = list(imports.job_errors(job, ERRORS_SHOWN)) if job.finished else []
    return page("grading/import.html", block="progress", job=job, errors=errors, shown=ERRORS_SHOWN)


@bp.route("/imports/<int:job_id>/errors.csv")
@roles_required(*IMPORT_ROLES)
def import_errors(job_id: int):
    """Download every refused row of an import (row number, reason, the row as read)."""
    job = _job(job_id)
    audit.record("grading.import_errors_download", "import_job", job.id)
    job_id = job.id

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer.writerow(["行号", "原因", "原始内容"])
        # Read page by page inside the stream: the request's own transaction has ended by now.
        for page_rows in imports.error_pages(job_id):
            for row_no, reason, raw in page_rows:
                writer.writerow([row_no, reason, raw or ""])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename=import-{job.id}-errors.csv"
    return response


def _job(job_id: int):
    job = imports.find_job(current_user, job_id)
    if job is None:
        abort(404)
    return job


# --- rules and recomputing -----------------------------------------------------------------------

@bp.route("/rules")
@roles_required(Role.HQ_ADMIN)
def rules_index():
    """List the grade rules in order of precedence, each with its edit form, and a form for a new one."""
    return _rules_page()


def _rules_page(status: int = 200, failed_form=None, failed_id=None, summary=None):
    rows = services.all_rules()
    edit_forms = {}
    for row in rows:
        if failed_id == row.id:
            edit_forms[row.id] = failed_form
        else:
            form = forms.RuleForm(prefix=f"rule{row.id}", formdata=None)
            form.fill_from(row)
            edit_forms[row.id] = form
    new_form = failed_form if failed_id == "new" else forms.RuleForm(prefix="new", formdata=None,
                                                                    data={"enabled": True, "precedence": 100})
    return page("grading/rules.html", status=status, rules=rows, edit_forms=edit_forms, new_form=new_form,
                describe=lambda row: services.rule_of(row).describe(), grade_labels=rules.GRADE_LABELS,
                summary=summary, average_days=rules.AVERAGE_DAYS,
                recompute_job=jobs.to_show(grading_jobs.RECOMPUTE, RECOMPUTE_SUBJECT, current_user),
                describe_job=jobs.describe)


@bp.route("/rules/new", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def rule_new():
    """Add a grade rule."""
    form = forms.RuleForm(prefix="new")
    if not form.validate_on_submit():
        return _rules_page(status=422, failed_form=form, failed_id="new")
    services.save_rule(None, form.values(), current_user)
    flash("已新增分级规则；重新计算后对客户生效。", "success")
    return see_other(url_for("grading.rules_index"))


@bp.route("/rules/<int:rule_id>", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def rule_edit(rule_id: int):
    """Change a grade rule."""
    row = db.session.get(GradeRule, rule_id)
    if row is None:
        abort(404)
    form = forms.RuleForm(prefix=f"rule{rule_id}")
    if not form.validate_on_submit():
        return _rules_page(status=422, failed_form=form, failed_id=rule_id)
    services.save_rule(row, form.values(), current_user)
    flash(f"规则 #{rule_id} 已保存；重新计算后对客户生效。", "success")
    return see_other(url_for("grading.rules_index"))


@bp.route("/recompute", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def recompute_all():
    """Value every customer's holdings and recompute all grades, in the job worker; the rules page shows how far.

    One recompute at a time: asking again while one is queued or running waits for that one."""
    if jobs.pending(grading_jobs.RECOMPUTE, RECOMPUTE_SUBJECT) is None:
        jobs.enqueue(grading_jobs.RECOMPUTE, subject=RECOMPUTE_SUBJECT, requested_by=current_user)
    return see_other(url_for("grading.rules_index"))


@bp.route("/recompute/customer", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def recompute_customer():
    """Recompute one customer's grade now (the customer number is posted, never put in the URL)."""
    customer = customer_services.find_visible(current_user, (request.form.get("customer_no") or "").strip().upper())
    if customer is None:
        abort(404)
    summary = services.recompute([customer.id], actor=current_user, trigger="manual")
    grade = services.grade_of(customer)
    if summary.day is None:
        flash("尚无行情数据，无法估值；请先导入证券日行情。", "warning")
    else:
        flash(f"已重新计算：{rules.GRADE_LABELS[grade.grade]}（{summary.day} 估值）。", "success")
    return see_other(url_for("customers.detail", customer_no=customer.customer_no) + "#grading-panel")


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@roles_required(*Role)
def notification_read(notification_id: int):
    """Mark one of my notifications read."""
    if not services.mark_read(current_user, notification_id):
        abort(404)
    return see_other(url_for("home.index"))


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    audit.record("grading.holdings_view", "customer", customer.customer_no)
    return {"grading_panel": {
        "grade": services.grade_of(customer), "history": services.grade_history(customer),
        "valuation": services.customer_valuation(customer), "grade_labels": rules.GRADE_LABELS,
        "figure_labels": rules.FIGURE_LABELS, "method_labels": METHOD_LABELS, "kind_labels": HOLDING_KIND_LABELS,
        "may_recompute": user.role == Role.HQ_ADMIN, "customer_no": customer.customer_no,
        "trigger_labels": {"manual": "手动重算", "schedule": "定时重算"},
    }}


