"""Return-visit (回访) screens: the agent's queue and call form, recordings, the branch manager's list."""

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application
from blueprints.return_visit import script, services
from blueprints.return_visit.forms import RECORDING_TYPES, ReturnVisitForm, SendBackForm
from blueprints.return_visit.models import CHECK_ITEM_SHORT, ReturnVisit
from blueprints.return_visit.rules import CASE_STATUS_LABELS, CaseStatus
from core import audit, files, reveal
from core.extensions import db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required
from core.timeutil import to_beijing

bp = Blueprint("return_visit", __name__, url_prefix="/return-visits")

# Who may download call recordings (and so is shown the links).
RECORDING_ROLES = (Role.RETURN_VISIT, Role.BRANCH_MANAGER)


@bp.route("/")
@roles_required(Role.RETURN_VISIT)
def queue():
    """List the branch's accounts awaiting a return visit, a page at a time: not yet called first, then the longest waiting."""
    found = services.queue_page(current_user, request.args.get("after"))
    audit.record("return_visit.queue_view", "application", None,
                 references=[row["application"].reference for row in found.rows])
    return page("return_visit/queue.html", block="queue_rows", page=found, rows=found.rows)


@bp.route("/<reference>", methods=["GET", "POST"])
@roles_required(Role.RETURN_VISIT)
def visit(reference: str):
    """Show the script and what the agent needs for the call, and record its outcome."""
    application = _load(reference, for_update=request.method == "POST")
    form = ReturnVisitForm(required_items=services.required_items(application))
    if request.method == "GET":
        audit.record("application.view", "application", application.reference, step="return_visit")
        return _visit_page(application, _fresh(form, application))
    if not form.validate_on_submit():
        return _visit_page(application, form, status=422, block="visit_form")
    outcome, items, notes = form.outcome.data or "", form.items.data or [], form.notes.data or ""
    attempt_no = form.expected_attempt()
    already = services.recorded_attempt(application, attempt_no)
    if already is not None:
        return _already_recorded(application, form, already)
    # Check the call before keeping its recording, so a refused visit leaves no orphan file.
    errors = services.visit_errors(application, outcome, items, notes, attempt_no)
    if errors:
        _show_refusal(form, errors, recording_given=bool(form.recording.data and form.recording.data.filename))
        return _visit_page(application, form, status=422, block="visit_form")
    try:
        recording, recording_name = _store_recording(form.recording.data)
    except files.FileRejected as rejected:
        form.recording.errors = [*form.recording.errors, str(rejected)]
        return _visit_page(application, form, status=422, block="visit_form")
    try:
        result = services.record_visit(application, current_user, outcome, items, notes, recording, recording_name,
                                       attempt_no=attempt_no)
    except services.AlreadyRecorded as done:
        return _already_recorded(application, form, done.visit)
    except services.VisitRefused as refused:
        _show_refusal(form, refused.errors, recording_given=recording is not None)
        return _visit_page(application, form, status=422, block="visit_form")
    _flash_recorded(application, result)
    return see_other(url_for("return_visit.queue"))


@bp.route("/<reference>/mobile", methods=["POST"])
@roles_required(Role.RETURN_VISIT)
def reveal_mobile(reference: str):
    """Show the customer's full mobile number for the call (the shared 显示完整 of core/reveal.py); audited."""
    application = _load(reference)
    if not reveal.RevealForm().validate_on_submit():
        abort(400)
    if services.case_of(application).status != CaseStatus.AWAITING:
        abort(403, "该账户不在回访队列中，不能查看完整手机号码。")
    services.reveal_mobile(application)
    form = ReturnVisitForm(formdata=None, required_items=services.required_items(application))
    return _visit_page(application, _fresh(form, application), block="mobile", mobile_revealed=True)


@bp.route("/<reference>/recording/<int:visit_id>")
@roles_required(*RECORDING_ROLES)
def recording(reference: str, visit_id: int):
    """Send one call recording as a download, to the branch's agents and manager only."""
    application = _load(reference)
    found = db.session.get(ReturnVisit, visit_id)
    if found is None or found.application_id != application.id or not found.recording_sha256:
        abort(404)
    if not files.exists(found.recording_sha256):
        abort(404, "录音文件不存在，请联系系统管理员。")
    audit.record("return_visit.recording_download", "application", application.reference,
                 visit_id=found.id, attempt=found.attempt_no)
    return files.send(found.recording_sha256, found.recording_mime, as_attachment=True,
                      download_name=found.recording_name or f"{application.reference}-{found.attempt_no}")


@bp.route("/escalated")
@roles_required(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def escalated():
    """List the accounts whose return visits did not pass, with every call, for the branch manager."""
    found = services.escalated_page(current_user, request.args.get("after"))
    audit.record("return_visit.escalated_view", "application", None,
                 references=[row["application"].reference for row in found.rows])
    return page("return_visit/escalated.html", block="escalated_rows", page=found, rows=found.rows,
                can_download=current_user.role in RECORDING_ROLES, check_items=CHECK_ITEM_SHORT)


@bp.route("/escalated/<reference>")
@roles_required(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def escalated_case(reference: str):
    """Show one account's calls and history, and the branch manager's send-back form."""
    application = _load(reference)
    audit.record("application.view", "application", application.reference, step="return_visit_escalated")
    return _case_page(application, SendBackForm(formdata=None))


@bp.route("/escalated/<reference>/send-back", methods=["POST"])
@roles_required(Role.BRANCH_MANAGER)
def send_back(reference: str):
    """Send the account back to the agents' queue for a new round of calls, with the manager's reason."""
    application = _load(reference, for_update=True)
    form = SendBackForm()
    if not form.validate_on_submit():
        return _case_page(application, form, status=422, block="send_back_form")
    try:
        round_no = services.send_back(application, current_user, form.reason.data or "")
    except services.SendBackRefused as refused:
        for name, message in refused.errors.items():
            form[name].errors = [*form[name].errors, message]
        return _case_page(application, form, status=422, block="send_back_form")
    flash(f"{application.reference} 已退回回访队列，开始第 {round_no} 轮回访（本轮可回访 {services.max_attempts()} 次）",
          "success")
    return see_other(url_for("return_visit.escalated"))


def _load(reference: str, for_update: bool = False) -> Application:
    """A visible application whose accounts are open (it has a return-visit case); the case is locked for a write."""
    application = opening_services.find_visible(current_user, reference)
    if application is None or services.case_of(application, for_update=for_update) is None:
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


def _fresh(form: ReturnVisitForm, application: Application) -> ReturnVisitForm:
    """A form for the next attempt: nothing ticked or typed, whatever earlier attempts recorded."""
    form.attempt_no.data = str(services.round_state(application).next_attempt_no)
    return form


def _already_recorded(application: Application, form: ReturnVisitForm, visit: ReturnVisit):
    """Answer a submit whose attempt is on record: the same agent's second click, or a colleague's call."""
    when = to_beijing(visit.visited_at).strftime("%H:%M")
    if visit.agent_id == current_user.id:
        flash(f"{application.reference} 第 {visit.attempt_no} 次回访已于 {when} 记录（{visit.outcome_label}），"
              "重复提交未再保存", "warning")
        return see_other(url_for("return_visit.queue"))
    message = f"第 {visit.attempt_no} 次回访已由{visit.agent.full_name}于 {when} 记录（{visit.outcome_label}），本次未保存。"
    case_ = services.case_of(application)
    if case_.status == CaseStatus.AWAITING:
        message += "请核对回访记录；如仍需记录本次通话，请再次提交。"
        _fresh(form, application)
    else:
        message += f"该账户当前状态为“{case_.status_label}”，无需再记录。"
    form.outcome.errors = [*form.outcome.errors, message]
    return _visit_page(application, form, status=422, block="visit_form")


def _flash_recorded(application: Application, visit: ReturnVisit) -> None:
    message = f"{application.reference} 回访已记录（第 {visit.attempt_no} 次）：{visit.outcome_label}"
    status = services.case_of(application).status
    if status == CaseStatus.PASSED:
        flash(message + "，账户已激活", "success")
    elif status == CaseStatus.ESCALATED:
        flash(message + f"。本轮 {services.round_state(application).attempts} 次回访均未成功，已转营业部负责人处理", "warning")
    else:
        flash(message + f"。本轮还可回访 {services.round_state(application).attempts_left} 次", "success")


def _visit_page(application: Application, form: ReturnVisitForm, status: int = 200, block: str | None = None,
                mobile_revealed: bool = False):
    facts = services.script_facts(application, current_app.config["FIRM_NAME"])
    return page(
        "return_visit/visit.html", block=block, status=status,
        application=application,
        case=(case_ := services.case_of(application)),
        form=form,
        reveal_form=reveal.RevealForm(formdata=None),
        awaiting=case_.status == CaseStatus.AWAITING,
        contact=services.contact_of(application) or {},
        facts=facts,
        has_agent="agent" in services.required_items(application),
        script=script.script_for(services.required_items(application), facts),
        opening_line=script.opening_line(facts),
        closing_line=script.CLOSING,
        state=services.round_state(application),
        sent_back=services.last_send_back(application),
        attempts=services.attempts(application),
        check_items=CHECK_ITEM_SHORT,
        can_download=True,
        mobile_revealed=mobile_revealed,
        max_recording_mb=current_app.config["MAX_RECORDING_BYTES"] / 1024 / 1024,
    )


def _case_page(application: Application, form: SendBackForm, status: int = 200, block: str | None = None):
    return page(
        "return_visit/escalated_case.html", block=block, status=status,
        application=application,
        case=(case_ := services.case_of(application)),
        form=form,
        facts=services.script_facts(application, current_app.config["FIRM_NAME"]),
        has_agent="agent" in services.required_items(application),
        contact=services.contact_of(application) or {},
        state=services.round_state(application),
        attempts=services.attempts(application),
        history=services.case_history(case_),
        status_labels=CASE_STATUS_LABELS,
        check_items=CHECK_ITEM_SHORT,
        can_send_back=current_user.role == Role.BRANCH_MANAGER,
        can_download=current_user.role in RECORDING_ROLES,
    )


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return services.panel_for(customer, user)
