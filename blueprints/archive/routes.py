"""Archive screens for archivists (档案管理员) and the lending register for managers."""
import time
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user

from blueprints.archive import forms, services
from blueprints.archive import jobs as archive_jobs
from blueprints.archive.models import ExportStatus, LendingAction
from blueprints.auth.services import full_names
from blueprints.customers import page as customer_page
from blueprints.customers.models import KIND_LABELS
from blueprints.opening import presenters
from blueprints.retention import services as retention
from blueprints.search import kept as kept_searches
from core import audit, files, jobs
from core.db import writes_on_read
from core.reference import ID_TYPE_LABELS
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required, sees_full_id
from core.timeutil import BEIJING

bp = Blueprint("archive", __name__, url_prefix="/archive")

# A purpose given for a customer's file covers further reads and downloads of it for this long;
# after that the archivist is asked again. Kept in the (server-side, encrypted) session, per customer number.
PURPOSE_SECONDS = 30 * 60


# --- search --------------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def index():
    """Search the archive a page at a time; a name or ID number is posted and kept on the server, the results
    page's URL carrying only the kept search's key, so that it never appears in a URL and reload, back and
    paging still work."""
    branches = services.branches_for(current_user)
    search_form = forms.ArchiveSearchForm(request.args, branches=branches, all_branches=current_user.sees_all_branches)
    name_form, id_form = forms.NameSearchForm(), forms.IdNumberSearchForm()
    found, status, key_type, args, expired = None, 200, None, {}, False
    if request.method == "POST":
        typed = _typed_search(name_form, id_form)
        if typed is not None:
            return see_other(url_for("archive.index", s=kept_searches.keep(current_user, KEPT_SCOPE, typed)))
        status = 422
    elif request.args.get("s"):
        typed = kept_searches.kept(current_user, KEPT_SCOPE, request.args["s"])
        expired = typed is None
        if typed is not None and "name" in typed:
            name_form.name.data = typed["name"]
            found, key_type = services.search_by_name(current_user, typed["name"], request.args.get("after")), "name"
        elif typed is not None:
            id_form.id_number.data = typed["id_number"]
            found, key_type = services.search(current_user, id_number=typed["id_number"]), "id_number"
        args = {"s": request.args["s"]}
    elif search_form.has_criteria():
        if search_form.validate():
            found, key_type = services.search(current_user, cursor=request.args.get("after"), **search_form.criteria()), "criteria"
        else:
            status = 422
        args = search_form.query_args()
    if found is not None:
        # What kind of search and how many shown, never the typed value.
        fields = [key_type] if key_type != "criteria" else sorted(k for k, v in search_form.criteria().items() if v)
        audit.record("archive.search", "customer", None, key_type=key_type, fields=fields, first_page=found.first,
                     shown=len(found.rows))
    customers = found.rows if found is not None else None
    return page("archive/index.html", block="archive_results",
                status=status, search_form=search_form, name_form=name_form, id_form=id_form, customers=customers,
                page=found, key_type=key_type, args=args, expired=expired,
                readable={c.id for c in customers or [] if services.may_read_file(current_user, c)},
                branch_names=services.branch_names(), kind_labels=KIND_LABELS)


KEPT_SCOPE = "archive"


def _typed_search(name_form, id_form) -> dict | None:
    """The posted name or ID-number search once it passes its checks (else None, the reason next to the field)."""
    if "name" in request.form:
        if not name_form.validate_on_submit():
            return None
        try:
            services.search_by_name(current_user, name_form.name.data, size=1)
        except services.ArchiveRefused as refused:
            name_form.name.errors = [*name_form.name.errors, str(refused)]
            return None
        return {"name": name_form.name.data.strip()}
    if not id_form.validate_on_submit():
        return None
    return {"id_number": id_form.id_number.data.strip()}


# --- a customer's file, behind the lending purpose -----------------------------------------------

@bp.route("/customers/<customer_no>", methods=["GET", "POST"])
@writes_on_read  # reading a customer's file is entered in the lending register
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def customer_file(customer_no: str):
    """Ask why the file is read (借阅目的), then show it; every showing goes into the lending register."""
    customer = _load_customer(customer_no)
    if not services.may_read_file(current_user, customer):
        abort(403, "该客户已销户，其档案仅档案管理员可以查阅。")
    form = forms.PurposeForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _purpose_page(customer, form, status=422)
        _remember_purpose(customer.customer_no, form.purpose_text())
        return see_other(url_for("archive.customer_file", customer_no=customer.customer_no))
    purpose = _purpose_for(customer.customer_no)
    if purpose is None:
        return _purpose_page(customer, form)
    services.register(current_user, customer, LendingAction.VIEW, purpose, ip=request.remote_addr)
    return _file_page(customer, purpose)


# --- scans ---------------------------------------------------------------------------------------

@bp.route("/customers/<customer_no>/scans", methods=["GET", "POST"])
@roles_required(Role.ARCHIVIST, Role.CLERK)
def upload_scan(customer_no: str):
    """Add a scan (影像资料) to the customer's archive; its type is judged by its content."""
    customer = _load_customer(customer_no)
    if not services.may_add_scan(current_user, customer):
        abort(403, "该客户已销户，不能再补充影像资料。")
    form = forms.ScanUploadForm()
    if request.method == "GET":
        return _upload_page(customer, form)
    if not form.validate_on_submit():
        return _upload_page(customer, form, status=422)
    upload = form.scan.data
    try:
        scan = services.add_scan(customer, form.scan_type.data, upload.read(), _client_name(upload.filename),
                                 current_user)
    except services.ArchiveRefused as refused:
        form.scan.errors = [*form.scan.errors, str(refused)]
        return _upload_page(customer, form, status=422)
    flash(f"已上传{scan.label}（{customer.customer_no}）", "success")
    # The archivist goes back to the file; a clerk, who does not read files, to the upload form.
    target = "archive.customer_file" if current_user.role == Role.ARCHIVIST else "archive.upload_scan"
    return see_other(url_for(target, customer_no=customer.customer_no))


@bp.route("/scans/<int:scan_id>")
@writes_on_read  # reading a customer's file is entered in the lending register
@roles_required(Role.ARCHIVIST)
def view_scan(scan_id: int):
    """Show one scan in the browser, registered as a read under the purpose given for its customer."""
    found = services.find_scan(current_user, scan_id)
    if found is None:
        abort(404)
    scan, customer = found
    purpose = _purpose_for(customer.customer_no)
    if purpose is None:
        return _ask_purpose(customer)
    if not files.exists(scan.sha256):
        abort(404, "影像文件不存在，请联系系统管理员。")
    services.register(current_user, customer, LendingAction.VIEW, purpose, scan=scan, ip=request.remote_addr)
    return _private(files.send(scan.sha256, scan.mime, scan.original_name or f"scan-{scan.id}"))


# --- dossiers ------------------------------------------------------------------------------------

@bp.route("/customers/<customer_no>/dossiers", methods=["POST"])
@roles_required(Role.ARCHIVIST)
def generate_dossier(customer_no: str):
    """Generate the next version of the customer's PDF dossier (客户开户档案); earlier ones stay."""
    customer = _load_customer(customer_no)
    if not forms.GenerateDossierForm(prefix="generate").validate_on_submit():
        abort(400)
    # The PDF renders in the job worker (~1 s, more with many scans); the file page shows its progress.
    # A second click while one is queued or running is the same request: it waits for that one.
    subject = ("customer", customer.id)
    if jobs.pending(archive_jobs.DOSSIER, subject) is None:
        jobs.enqueue(archive_jobs.DOSSIER, {"customer_id": customer.id}, subject=subject, requested_by=current_user)
    return see_other(url_for("archive.customer_file", customer_no=customer.customer_no))


@bp.route("/customers/<customer_no>/dossiers")
@roles_required(Role.ARCHIVIST)
def dossier_versions(customer_no: str):
    """The list of dossier versions, fetched again by the file page when a dossier job has ended."""
    customer = _load_customer(customer_no)
    if _purpose_for(customer.customer_no) is None:
        return _ask_purpose(customer)
    audit.record("archive.dossier_list", "customer", customer.archive_no or customer.customer_no)
    # The archive number, given with the first version, is swapped in beside the list (out of band).
    return page("archive/file.html", block="dossier_versions", customer=customer, dossiers=services.dossiers_of(customer),
                archivist=True, refreshed=True)


@bp.route("/dossiers/<int:dossier_id>/download")
@writes_on_read  # reading a customer's file is entered in the lending register
@roles_required(Role.ARCHIVIST)
def download_dossier(dossier_id: int):
    """Send one dossier version as a file, registered as a take-out under the customer's purpose."""
    found = services.find_dossier(current_user, dossier_id)
    if found is None:
        abort(404)
    dossier, customer = found
    purpose = _purpose_for(customer.customer_no)
    if purpose is None:
        return _ask_purpose(customer)
    if not files.exists(dossier.sha256):
        abort(404, "档案文件不存在，请联系系统管理员。")
    services.register(current_user, customer, LendingAction.DOWNLOAD, purpose, dossier=dossier, ip=request.remote_addr)
    return _private(files.send(dossier.sha256, "application/pdf", f"{dossier.archive_no}-v{dossier.version}.pdf",
                               as_attachment=True))


# --- the lending register ------------------------------------------------------------------------

@bp.route("/register")
@roles_required(Role.BRANCH_MANAGER, Role.HQ_ADMIN, Role.ARCHIVIST)
def lending_register():
    """List who read or took which customer's file, when and why (借阅登记簿)."""
    form = forms.RegisterFilterForm(request.args, staff=services.register_staff(current_user))
    if not form.validate():
        return page("archive/register.html", status=422, form=form, records=None)
    found = services.lending_page(current_user, request.args.get("after"), **form.filters())
    # Which filters were used and how many entries shown; the register itself is customer data.
    audit.record("archive.register_view", "lending_record", None, shown=len(found.rows), first_page=found.first,
                 filters=sorted(name for name, value in form.filters().items() if value))
    args = {name: value for name, value in request.args.items() if name != "after" and value}
    return page("archive/register.html", block="register_rows", form=form, page=found, records=found.rows,
                customers=found.extra["customers"], args=args)


# --- retention and legal holds ----------------------------------------------------------------------

@bp.route("/customers/<customer_no>/hold", methods=["POST"])
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def place_hold(customer_no: str):
    """Place a legal hold (法律保全): the file is kept past its retention term until the hold is lifted."""
    return _hold_action(customer_no, "hold", forms.HoldForm, retention.place_hold,
                        "已设置法律保全，保全期间该客户档案不会被清除。")


@bp.route("/customers/<customer_no>/hold/lift", methods=["POST"])
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def lift_hold(customer_no: str):
    """Lift the standing legal hold, with why; the hold stays on record."""
    return _hold_action(customer_no, "lift", forms.LiftHoldForm, retention.lift_hold, "已解除法律保全。")


def _hold_action(customer_no: str, prefix: str, form_class, action, done: str):
    customer = _load_customer(customer_no)
    form = form_class(prefix=prefix)
    if not form.validate_on_submit():
        return _retention_page(customer, **{f"{prefix}_form": form}, status=422)
    try:
        action(customer, current_user, form.reason.data)
    except retention.RetentionRefused as refused:
        # Next to the reason when its form is still the one shown; otherwise (a hold placed meanwhile, in
        # another tab or by a colleague) above the panel's new state, with what was typed left behind.
        form.reason.errors = [*form.reason.errors, str(refused)]
        return _retention_page(customer, **{f"{prefix}_form": form}, refused=str(refused), status=422)
    return _retention_page(customer, done=done)


def _retention_context(customer, hold_form=None, lift_form=None, done: str | None = None,
                       refused: str | None = None) -> dict:
    holds = retention.holds_of(customer.id)
    standing = holds[0] if holds and holds[0].lifted_at is None else None
    people = {h.placed_by_id for h in holds} | {h.lifted_by_id for h in holds if h.lifted_by_id}
    return {"term": retention.term_text(customer), "standing": standing,
            "lifted": [h for h in holds if h is not standing], "staff_names": full_names(people),
            "hold_form": hold_form or forms.HoldForm(formdata=None, prefix="hold"),
            "lift_form": lift_form or forms.LiftHoldForm(formdata=None, prefix="lift"), "done": done,
            "refused": None if _failed_form_shown(standing, hold_form, lift_form) else refused}


def _failed_form_shown(standing, hold_form, lift_form) -> bool:
    """Whether the form that was refused is the one the panel shows now (its error is next to its field)."""
    return (hold_form is not None and standing is None) or (lift_form is not None and standing is not None)


def _retention_page(customer, status: int = 200, **forms_and_done):
    audit.record("retention.view", "customer", customer.customer_no)
    return page("archive/hold.html", block="retention_panel", status=status, customer=customer,
                **_retention_context(customer, **forms_and_done))


# --- batch export --------------------------------------------------------------------------------

@bp.route("/exports", methods=["GET", "POST"])
@roles_required(Role.ARCHIVIST)
def exports():
    """Queue a batch export of a branch's dossiers for customers opened in a date range."""
    form = forms.ExportForm(branches=services.branches_for(current_user))
    if request.method == "GET":
        form.branch.data = str(current_user.branch_id)
        return _exports_page(form)
    if not form.validate_on_submit():
        return _exports_page(form, status=422)
    try:
        job = services.start_export(current_user, form.branch_id, form.date_from.data, form.date_to.data,
                                    form.purpose_text())
    except services.ArchiveRefused as refused:
        return _exports_page(form, status=422, refusal=str(refused))
    jobs.enqueue(archive_jobs.EXPORT, {"export_job_id": job.id}, subject=("export_job", job.id),
                 requested_by=current_user)
    return see_other(url_for("archive.export_status", job_id=job.id))


@bp.route("/exports/<int:job_id>")
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def export_status(job_id: int):
    """Show an export's progress; htmx polls the progress block until the export ends."""
    job = _load_export(job_id)
    return page("archive/export.html", block="progress", job=job,
                finished=job.status in (ExportStatus.DONE, ExportStatus.FAILED))


@bp.route("/exports/<int:job_id>/download")
@roles_required(Role.ARCHIVIST, Role.HQ_ADMIN)
def download_export(job_id: int):
    """Send a finished export's zip, to the staff member who asked for it or to HQ."""
    job = _load_export(job_id)
    if job.status != ExportStatus.DONE or not job.sha256 or not files.exists(job.sha256):
        abort(404, "导出文件尚未生成或已不存在。")
    audit.record("archive.export_download", "export_job", job.id, branch=job.branch_id)
    return _private(files.send(job.sha256, "application/zip", f"archive-export-{job.id}.zip", as_attachment=True))


# --- helpers -------------------------------------------------------------------------------------

def _load_customer(customer_no: str):
    customer = services.find_customer(current_user, customer_no)
    if customer is None:
        abort(404)
    return customer


def _load_export(job_id: int):
    job = services.find_export(current_user, job_id)
    if job is None:
        abort(404)
    return job


def _purpose_for(customer_no: str) -> str | None:
    """The purpose given for this customer's file, while it is still valid."""
    entry = session.get("archive_purpose", {}).get(customer_no)
    if entry and entry.get("until", 0) > time.time():
        return entry["purpose"]
    return None


def _remember_purpose(customer_no: str, purpose: str) -> None:
    now = time.time()
    # Expired entries are dropped so the session does not grow with every file read.
    kept = {no: entry for no, entry in session.get("archive_purpose", {}).items() if entry.get("until", 0) > now}
    kept[customer_no] = {"purpose": purpose, "until": now + PURPOSE_SECONDS}
    session["archive_purpose"] = kept


def _ask_purpose(customer):
    flash("查阅档案须先登记借阅目的（登记后 30 分钟内有效）", "warning")
    return redirect(url_for("archive.customer_file", customer_no=customer.customer_no))


def _client_name(filename: str | None) -> str | None:
    # Only the last path part (some browsers send the client's full path), printable characters only.
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable()).strip() or None


def _private(response):
    # Customer files never stay in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _purpose_page(customer, form, status: int = 200):
    return page("archive/purpose.html", status=status, customer=customer, form=form, kind_labels=KIND_LABELS,
                purpose_minutes=PURPOSE_SECONDS // 60)


def _file_page(customer, purpose: str):
    archivist = current_user.role == Role.ARCHIVIST
    until = session["archive_purpose"][customer.customer_no]["until"]
    return page("archive/file.html", customer=customer, purpose=purpose,
                purpose_until=datetime.fromtimestamp(until, BEIJING).strftime("%H:%M"),
                scans=services.scans_of(customer), dossiers=services.dossiers_of(customer),
                witness_records=presenters.customer_witness_records(customer),
                archivist=archivist,
                upload_form=forms.ScanUploadForm(formdata=None) if archivist else None,
                generate_form=forms.GenerateDossierForm(formdata=None, prefix="generate"),
                dossier_job=jobs.to_show(archive_jobs.DOSSIER, ("customer", customer.id), current_user),
                describe_job=jobs.describe,
                max_scan_mb=current_app.config["MAX_SCAN_BYTES"] / 1024 / 1024,
                home_branch=services.branch_names().get(customer.branch_id),
                show_full_id=sees_full_id(current_user), kind_labels=KIND_LABELS, id_type_labels=ID_TYPE_LABELS,
                **_retention_context(customer))


def _upload_page(customer, form, status: int = 200):
    return page("archive/upload.html", block="upload_form", status=status, customer=customer, form=form,
                archivist=current_user.role == Role.ARCHIVIST,
                max_scan_mb=current_app.config["MAX_SCAN_BYTES"] / 1024 / 1024)


def _exports_page(form, status: int = 200, refusal: str | None = None):
    return page("archive/exports.html", status=status, form=form, refusal=refusal,
                jobs=services.exports_of(current_user), branch_names=services.branch_names())


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return services.panel_for(customer)
