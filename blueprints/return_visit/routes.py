"""Return-visit (回访) screens: the agent's queue, the call form, the recording download."""
import os

from flask import Blueprint, abort, current_app, flash, request, send_file, url_for
from flask_login import current_user

from blueprints.opening import choices, presenters
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application
from blueprints.opening.rules import ID_TYPE_LABELS
from blueprints.opening.workflow import Status
from blueprints.return_visit import services
from blueprints.return_visit.forms import RECORDING_TYPES, ReturnVisitForm, RevealMobileForm
from blueprints.return_visit.models import CHECK_ITEMS, ReturnVisit
from core import audit, files
from core.extensions import db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required

bp = Blueprint("return_visit", __name__, url_prefix="/return-visits")

# Applications a return-visit agent has any business with: from accounts opened onwards.
VISIT_STATUSES = frozenset({Status.AWAITING_RETURN_VISIT, Status.ACTIVE, Status.INACTIVE})


@bp.route("/")
@roles_required(Role.RETURN_VISIT)
def queue():
    """List the accounts of the branch that await a return visit, longest waiting first."""
    return page("return_visit/queue.html", rows=services.queue_rows(current_user))


@bp.route("/<reference>", methods=["GET", "POST"])
@roles_required(Role.RETURN_VISIT)
def visit(reference: str):
    """Show what the agent needs for the call, and record its outcome."""
    application = _load(reference, for_update=request.method == "POST")
    form = ReturnVisitForm(required_items=services.required_items(application))
    if request.method == "GET":
        audit.record("application.view", "application", application.reference, step="return_visit")
        return _visit_page(application, form)
    if not form.validate_on_submit():
        return _visit_page(application, form, status=422, block="visit_form")
    outcome, items, notes = form.outcome.data or "", form.items.data or [], form.notes.data or ""
    # Check the call before keeping its recording, so a refused visit leaves no orphan file.
    errors = services.visit_errors(application, outcome, items, notes)
    if errors:
        _show_refusal(form, errors, recording_given=bool(form.recording.data and form.recording.data.filename))
        return _visit_page(application, form, status=422, block="visit_form")
    try:
        recording, recording_name = _store_recording(form.recording.data)
    except files.FileRejected as rejected:
        form.recording.errors = [*form.recording.errors, str(rejected)]
        return _visit_page(application, form, status=422, block="visit_form")
    try:
        result = services.record_visit(application, current_user, outcome, items, notes, recording, recording_name)
    except services.VisitRefused as refused:
        _show_refusal(form, refused.errors, recording_given=recording is not None)
        return _visit_page(application, form, status=422, block="visit_form")
    flash(f"{application.reference} 回访已记录（第 {result.attempt_no} 次）：{result.outcome_label}"
          + ("，账户已激活" if application.status == Status.ACTIVE else ""), "success")
    return see_other(url_for("return_visit.queue"))


@bp.route("/<reference>/mobile", methods=["POST"])
@roles_required(Role.RETURN_VISIT)
def reveal_mobile(reference: str):
    """Show the customer's full mobile number for the call; the reveal is audited."""
    application = _load(reference)
    if not RevealMobileForm(prefix="reveal").validate_on_submit():
        abort(400)
    if application.status != Status.AWAITING_RETURN_VISIT:
        abort(403, "该账户不在回访队列中，不能查看完整手机号码。")
    audit.record("customer.reveal_mobile", "application", application.reference, field="mobile")
    form = ReturnVisitForm(formdata=None, required_items=services.required_items(application))
    return _visit_page(application, form, block="mobile", mobile_revealed=True)


@bp.route("/<reference>/recording/<int:visit_id>")
@roles_required(Role.RETURN_VISIT, Role.BRANCH_MANAGER)
def recording(reference: str, visit_id: int):
    """Send one call recording as a download, to the branch's agents and manager only."""
    application = _load(reference)
    found = db.session.get(ReturnVisit, visit_id)
    if found is None or found.application_id != application.id or not found.recording_sha256:
        abort(404)
    path = files.path_for(found.recording_sha256)
    if not os.path.exists(path):
        abort(404, "录音文件不存在，请联系系统管理员。")
    audit.record("return_visit.recording_download", "application", application.reference,
                 visit_id=found.id, attempt=found.attempt_no)
    return send_file(path, mimetype=found.recording_mime, as_attachment=True,
                     download_name=found.recording_name or f"{application.reference}-{found.attempt_no}")


def _load(reference: str, for_update: bool = False) -> Application:
    application = opening_services.find_visible(current_user, reference, for_update=for_update)
    if application is None or application.status not in VISIT_STATUSES:
        abort(404)
    return application


def _store_recording(upload) -> tuple[files.StoredFile | None, str | None]:
    """Keep the uploaded recording if one was chosen; its type is judged by content."""
    if upload is None or not upload.filename:
        return None, None
    stored = files.store(upload.read(), allowed=set(RECORDING_TYPES),
                         max_bytes=current_app.config["MAX_RECORDING_BYTES"])
    # Only the last path part: some browsers send the client's full path.
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return stored, "".join(ch for ch in name if ch.isprintable()).strip() or None


def _show_refusal(form: ReturnVisitForm, errors: dict[str, str], recording_given: bool) -> None:
    """Put each of the service's messages next to its field."""
    for name, message in errors.items():
        target = form[name] if name in form else form.outcome
        target.errors = [*target.errors, message]
    if recording_given:
        # A browser cannot refill a file input; say so rather than let the recording be lost silently.
        form.recording.errors = [*form.recording.errors, "本次未保存，请重新选择录音文件"]


def _visit_page(application: Application, form: ReturnVisitForm, status: int = 200, block: str | None = None,
                mobile_revealed: bool = False):
    agent = application.step_data("agent") or {}
    return page(
        "return_visit/visit.html", block=block, status=status,
        application=application,
        form=form,
        reveal_form=RevealMobileForm(formdata=None, prefix="reveal"),
        awaiting=application.status == Status.AWAITING_RETURN_VISIT,
        identity=application.step_data("identity") or {},
        contact=application.step_data("contact") or {},
        agent=agent if agent.get("has_agent") else None,
        channel_label=choices.CHANNELS.get(application.channel, application.channel),
        relationship_labels=choices.AGENT_RELATIONSHIPS,
        id_type_labels=ID_TYPE_LABELS,
        risk_class=presenters.class_label(opening_services.latest_assessment(application)),
        fund_account=services.fund_account_numbers([application.id]).get(application.id),
        attempts=services.attempts(application),
        check_items=CHECK_ITEMS,
        mobile_revealed=mobile_revealed,
        max_recording_mb=current_app.config["MAX_RECORDING_BYTES"] / 1024 / 1024,
    )



