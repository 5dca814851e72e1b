"""The opening wizard: one page whose step panels htmx swaps in; each step is a spec in steps.py."""

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from blueprints.opening import documents, presenters, progress, services, steps, workflow
from blueprints.opening.forms import WithdrawForm
from blueprints.reader import services as reader_services
from core import audit, files
from core.render import page, see_other
from core.roles import OPENING_ROLES, Role
from core.security import roles_required

bp = Blueprint("opening", __name__, url_prefix="/opening")

NOT_EDITABLE = "该申请不在可编辑状态，或由其他柜员录入。"


def _load(reference: str, for_update: bool = False):
    application = services.find_visible(current_user, reference, for_update=for_update)
    if application is None:
        abort(404)
    return application


def _load_editable(reference: str):
    application = _load(reference, for_update=True)
    if not services.can_edit(current_user, application):
        abort(403, NOT_EDITABLE)
    return application


@bp.route("/")
@roles_required(*OPENING_ROLES)
def index():
    """List the clerk's to-do (我的待办) and what the clerk has submitted (已提交)."""
    audit.record("application.list", "application", None, list="mine")
    submitted = services.my_submitted(current_user)
    return page("opening/index.html", todo=services.my_todo(current_user), submitted=submitted,
                progress=progress.of(submitted), withdraw_form=WithdrawForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*OPENING_ROLES)
def new():
    """Start an application with its channel and customer type."""
    if request.method == "GET":
        return steps.render(None, "channel")
    return steps.save_new()


@bp.route("/<reference>")
@roles_required(*OPENING_ROLES)
def resume(reference: str):
    """Open an application where the clerk stopped (the returned step after a rejection)."""
    application = _load(reference)
    if not services.can_edit(current_user, application):
        return see_other(url_for("opening.detail", reference=reference))
    return see_other(steps.step_url(application, services.resume_step(application)))


@bp.route("/<reference>/detail")
@roles_required(*OPENING_ROLES, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def detail(reference: str):
    """Show an application read-only, with its status history."""
    application = _load(reference)
    audit.record("application.view", "application", application.reference, step="detail")
    return page("opening/detail.html", application=application, progress=progress.of_one(application),
                **presenters.summary_context(application),
                **presenters.contributions(application), history=services.status_history(application),
                current_documents=documents.current_by_kind(application),
                document_labels=documents.KIND_LABELS,
                step_label=lambda key: workflow.step_label(application.channel, key))


@bp.route("/<reference>/step/<key>", methods=["GET", "POST"])
@roles_required(*OPENING_ROLES)
def step(reference: str, key: str):
    """Show or save one wizard step."""
    if key not in workflow.STEP_KEYS:
        abort(404)
    application = _load(reference, for_update=request.method == "POST")
    if request.method == "POST" and key == "summary" and services.is_in_review(application):
        # A second click on "submit" (or a retry after a lost response) does nothing more.
        return see_other(url_for("opening.submitted", reference=reference))
    if not services.can_edit(current_user, application):
        if request.method == "POST":
            abort(403, NOT_EDITABLE)
        return see_other(url_for("opening.detail", reference=reference))
    if not workflow.reachable(key, application.completed_steps, application.channel):
        return see_other(steps.step_url(application, services.resume_step(application)))
    if request.method == "GET":
        audit.record("application.view", "application", application.reference, step=key)
        return steps.render(application, key)
    return steps.SPECS[key].save(application)


@bp.route("/<reference>/file/<sha256>")
@roles_required(*OPENING_ROLES)
def step_file(reference: str, sha256: str):
    """Send an image the clerk saved on this application (scan, photo, signature) to show it again."""
    application = _load(reference)
    if application.created_by_id != current_user.id:
        abort(404)
    found = services.application_file(application, sha256, pending=steps.pending_files(application))
    if found is None or not files.exists(sha256):
        abort(404)
    audit.record("application.file_view", "application", application.reference, kind=found.kind)
    return files.send(sha256, found.mime, f"{application.reference}-{found.kind}.{found.extension}")


@bp.route("/<reference>/card")
@roles_required(*OPENING_ROLES)
def card_read(reference: str):
    """Wait for a card on this terminal's reader, then fill the identity step (htmx polls this)."""
    application = _load(reference)
    if not services.can_edit(current_user, application):
        abort(403, NOT_EDITABLE)
    wait = reader_services.wait_for_card(request)
    if wait.read is not None:
        response = steps.identity_from_card(application, wait.read)
        response.headers["HX-Retarget"] = "#wizard"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return page("reader/_card_status.html", wait=wait,
                card_url=url_for("opening.card_read", reference=application.reference),
                pair_next=url_for("opening.step", reference=application.reference, key="identity"))


@bp.route("/<reference>/submitted")
@roles_required(*OPENING_ROLES)
def submitted(reference: str):
    """Confirm that the application is in the review queue."""
    application = _load(reference)
    return page("opening/submitted.html", application=application, progress=progress.of_one(application))


@bp.route("/<reference>/withdraw", methods=["POST"])
@roles_required(*OPENING_ROLES)
def withdraw(reference: str):
    """Void (作废) an application the customer no longer wants, with a reason; it stays on record."""
    application = _load(reference, for_update=True)
    if application.status == workflow.Status.WITHDRAWN:
        return see_other(url_for("opening.index"))  # a second click: already done
    if not services.can_withdraw(current_user, application):
        abort(403, NOT_EDITABLE)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return page("opening/_withdraw.html", status=422, application=application, withdraw_form=form)
    services.withdraw_application(application, current_user, form.full_reason())
    return see_other(url_for("opening.index"))


@bp.route("/<reference>/documents", methods=["GET", "POST"])
@roles_required(*OPENING_ROLES)
def resupply(reference: str):
    """Replace the scans a reviewer asked for again, while the application stays in review."""
    application = _load(reference, for_update=request.method == "POST")
    if application.created_by_id != current_user.id:
        abort(403, NOT_EDITABLE)
    requested = documents.requested_again(application)
    kinds = [document.kind for document in requested]
    if request.method == "GET" or not kinds:
        audit.record("application.view", "application", application.reference, step="resupply")
        return page("opening/resupply.html", application=application, requested=requested,
                    document_labels=documents.KIND_LABELS, errors={})
    errors = documents.store_uploads(application, request.files, current_user, kinds=kinds)
    still = [d.kind for d in documents.requested_again(application)]
    if errors or still:
        for kind in still:
            errors.setdefault(kind, f"请重新扫描{documents.KIND_LABELS[kind]}")
        return page("opening/resupply.html", status=422, application=application,
                    requested=[d for d in requested if d.kind in errors], document_labels=documents.KIND_LABELS,
                    errors=errors)
    flash("已补充影像，等待复核岗复核", "success")
    return see_other(url_for("opening.index"))
