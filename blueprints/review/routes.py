"""Review (复核) screens: the reviewer's queue, the review page, decisions, same-terminal review (同机复核)."""
import re

from flask import Blueprint, abort, flash, make_response, request, url_for
from flask_login import current_user

from blueprints.auth import services as auth_services
from blueprints.opening import documents, scoring, workflow
from blueprints.opening import progress as opening_progress
from blueprints.opening import services as opening_services
from blueprints.opening import presenters
from blueprints.accounts import presenters as account_presenters
from blueprints.review import services
from blueprints.review.forms import ApproveForm, QueueFilterForm, RejectForm, SameTerminalForm
from core import audit, choices, files
from core.render import in_place, page, see_other
from core.roles import OPENING_ROLES, Role
from core.security import roles_required
from core.timeutil import to_beijing

bp = Blueprint("review", __name__, url_prefix="/review")

DECISION_LABELS = {"approve": "复核通过", "reject": "退回修改"}
# Everyone whose screens show an application: its makers, reviewers, managers, HQ and archivists.
APPLICATION_VIEWERS = (Role.CLERK, Role.WITNESS, Role.REVIEWER, Role.BRANCH_MANAGER, Role.HQ_ADMIN, Role.ARCHIVIST)
WITNESS_IMAGE_TYPES = {"image/jpeg", "image/png"}
SHA256 = re.compile(r"[0-9a-f]{64}")


def _load(reference: str, for_update: bool = False):
    application = opening_services.find_visible(current_user, reference, for_update=for_update)
    # A never-submitted application is nobody's to review, nor its scans or images anyone's but its maker's.
    if application is None or not opening_services.shown_in_full(current_user, application):
        abort(404)
    return application


def _refusal_status(application, reviewer) -> int:
    """409 when this submission is decided or another reviewer holds it, 403 when `reviewer` may not
    decide it, else 422."""
    decided = services.latest_decision(application)
    if not opening_services.is_in_review(application) or (
            decided is not None and decided.submission_no == application.submission_no):
        return 409
    reason = services.refusal_reason(application, reviewer)
    if reason is None:
        return 422
    claim = services.claim_of_other(application, reviewer)
    return 409 if claim is not None and reason == services.held_message(claim) else 403


def _refused(application, reviewer, refusal, reject_form=None):
    """The review page again with `refusal` (a reason or a DecisionRefused), answered with the status it means."""
    return _render_review(application, status=_refusal_status(application, reviewer), refused=str(refusal),
                          reject_form=reject_form)


@bp.route("/")
@roles_required(Role.REVIEWER)
def queue():
    """List the applications waiting for review: filtered and paged in the database, oldest first."""
    reviewer = current_user._get_current_object()
    filters = QueueFilterForm(request.args, branches=services.filter_branches(reviewer))
    if not filters.validate():
        response = page("review/queue.html", block="queue_filters", status=422, filters=filters, inbox=None)
        return in_place(response, "#queue-filters")
    inbox = services.inbox(reviewer, filters.filters(), cursor=request.args.get("after"))
    # The list shows masked names only; the read is still recorded, with what was asked for.
    audit.record("review.inbox", "application", None, first_page=inbox.first, shown=len(inbox.rows),
                 filters=filters.query_args())
    return page("review/queue.html", block="queue_table", filters=filters, inbox=inbox,
                show_branch=reviewer.sees_all_branches, channel_labels=choices.CHANNELS,
                status_labels=workflow.STATUS_LABELS)


@bp.route("/<reference>")
@roles_required(Role.REVIEWER)
def review(reference: str):
    """Show everything entered, the earlier decisions and the decision forms."""
    application = _load(reference)
    audit.record("application.view", "application", application.reference, step="review")
    return _render_review(application)


@bp.route("/<reference>/approve", methods=["POST"])
@roles_required(Role.REVIEWER)
def approve(reference: str):
    """Approve the application (复核通过): the accounts are opened."""
    application = _load(reference, for_update=True)
    reviewer = current_user._get_current_object()
    try:
        # Refuses first with services.refusal_reason, as reject does before its form is read.
        services.approve(application, reviewer=reviewer, operator=reviewer)
    except services.DecisionRefused as error:
        return _refused(application, reviewer, error)
    flash(f"{application.reference} 已复核通过", "success")
    return see_other(url_for("review.queue"))


@bp.route("/<reference>/reject", methods=["POST"])
@roles_required(Role.REVIEWER)
def reject(reference: str):
    """Return the application to the clerk with the reason and the step to correct."""
    application = _load(reference, for_update=True)
    reviewer = current_user._get_current_object()
    refused = services.refusal_reason(application, reviewer)
    if refused:
        return _refused(application, reviewer, refused)
    form = RejectForm(channel=application.channel)
    if not form.validate_on_submit():
        return _render_review(application, status=422, reject_form=form)
    try:
        services.reject(application, reviewer=reviewer, operator=reviewer, reason=form.reason.data,
                        return_step=form.return_step.data)
    except services.DecisionRefused as error:
        return _refused(application, reviewer, error, reject_form=form)
    flash(f"{application.reference} 已退回{_maker_label(application)}", "success")
    return see_other(url_for("review.queue"))


@bp.route("/<reference>/claim", methods=["POST"])
@roles_required(Role.REVIEWER)
def take(reference: str):
    """Take the application for review (认领): others see who holds it and cannot take or decide it."""
    application = _load(reference, for_update=True)
    reviewer = current_user._get_current_object()
    try:
        claim = services.take(application, reviewer)
    except services.DecisionRefused as error:
        return _refused(application, reviewer, error)
    flash(f"已认领 {application.reference}，认领至 {to_beijing(claim.expires_at):%H:%M}", "success")
    return see_other(url_for("review.review", reference=application.reference))


@bp.route("/<reference>/release", methods=["POST"])
@roles_required(Role.REVIEWER)
def release(reference: str):
    """Give a claimed application back to the inbox (释放)."""
    application = _load(reference, for_update=True)
    reviewer = current_user._get_current_object()
    try:
        services.release(application, reviewer)
    except services.DecisionRefused as error:
        return _render_review(application, status=409, refused=str(error))
    flash(f"已释放 {application.reference}，其他复核人员可以认领", "success")
    return see_other(url_for("review.queue"))


@bp.route("/<reference>/same-terminal")
@roles_required(*OPENING_ROLES)
def same_terminal(reference: str):
    """Show the same-terminal review panel (同机复核) with the summary to check, or the decision once taken."""
    application = _load(reference)
    _refuse_unless_host(application)
    audit.record("application.view", "application", application.reference, step="same_terminal")
    return _render_same_terminal(application)


@bp.route("/<reference>/same-terminal", methods=["POST"])
@roles_required(*OPENING_ROLES)
def same_terminal_decide(reference: str):
    """Take a decision with a reviewer's own credentials; the session stays the operator's."""
    application = _load(reference, for_update=True)
    _refuse_unless_host(application)
    decided = services.decided_message(application)
    if decided:
        # Nothing to decide: answered before the form is read, so no password is checked or counted.
        return _render_same_terminal(application, status=409, refused=decided)
    form = SameTerminalForm(channel=application.channel, maker=_maker_label(application))
    if not form.validate_on_submit():
        return _render_same_terminal(application, form, status=422)
    operator = current_user._get_current_object()

    def decide(reviewer):
        # Both first ask services.refusal_reason; _refusal_status tells a reviewer who may not decide (403,
        # next to their name) from a decision already taken or held by another (409).
        if form.rejecting:
            services.reject(application, reviewer=reviewer, operator=operator, reason=form.reason.data,
                            return_step=form.return_step.data)
        else:
            services.approve(application, reviewer=reviewer, operator=operator)

    outcome = auth_services.review_on_terminal(
        form, decide, services.DecisionRefused,
        status_of=lambda refusal, reviewer: _refusal_status(application, reviewer))
    if outcome.status:
        return _render_same_terminal(application, form, status=outcome.status, refused=outcome.refused)
    verb = f"已退回{_maker_label(application)}" if form.rejecting else "已复核通过"
    flash(f"同机复核完成：{application.reference} {verb}（复核人：{outcome.reviewer.full_name}）", "success")
    # The clerk (or witness) goes back to the page the application was submitted from, now showing the decision.
    return see_other(url_for("opening.submitted", reference=application.reference))


def _refuse_unless_host(application) -> None:
    """403 before anything is read when this session may not host the application's same-terminal review."""
    refused = services.host_refusal(application, current_user)
    if refused:
        abort(403, refused)


def _maker_label(application) -> str:
    """Who corrects a returned application: the witness staff of a witness opening, else the clerk."""
    return "见证人员" if application.created_by.role == Role.WITNESS else "柜员"


def _step_label(application):
    """"3. 联系方式与基本信息" for a step key, numbered as on this application's channel."""
    return lambda key: workflow.step_label(application.channel, key) if key else "—"


@bp.route("/<reference>/witness/<any(photo, signature):kind>")
@roles_required(*APPLICATION_VIEWERS)
def witness_image(reference: str, kind: str):
    """Send the witness photo or the customer's signature recorded on this application, never cached."""
    application = _load(reference)
    digest = presenters.witness_image_sha(application, kind)
    mime = files.detected_type(digest) if digest and SHA256.fullmatch(digest) else None
    if mime not in WITNESS_IMAGE_TYPES:
        abort(404, "该申请没有这份见证影像。")
    audit.record("application.witness_image", "application", application.reference, image=kind)
    # A face photo and a signature are sensitive personal information: sent with no-store, never cached.
    return files.send(digest, mime, f"{application.reference}-{kind}")


@bp.route("/<reference>/accounts")
@roles_required(*OPENING_ROLES, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def accounts_progress(reference: str):
    """The accounts block of an approved application, which htmx polls until every account is open.

    `seen` is the fingerprint of the block the browser shows: when nothing changed the answer is an
    empty 204 (htmx swaps nothing and keeps polling), so only an answer carrying account data is audited.
    """
    application = _load(reference)
    progress = account_presenters.accounts_progress(application)
    if progress is not None and request.args.get("seen") == progress.digest:
        response = make_response("", 204)
        response.headers["Vary"] = "HX-Request"
        return response
    audit.record("application.view", "application", application.reference, step="accounts")
    return page("accounts/_accounts_progress.html", application=application, accounts=progress,
                oob=bool(request.htmx))


@bp.route("/<reference>/documents/<int:document_id>", methods=["POST"])
@roles_required(Role.REVIEWER)
def decide_document(reference: str, document_id: int):
    """Accept one scan, or ask the clerk for it again with a reason, leaving the review open."""
    application = _load(reference, for_update=True)
    document = documents.find(application, document_id)
    if document is None:
        abort(404)
    reviewer = current_user._get_current_object()
    refused = services.refusal_reason(application, reviewer)
    if refused:
        return _refused(application, reviewer, refused)
    decision, reason = request.form.get("decision"), request.form.get("reason", "")
    try:
        if decision == "accept":
            documents.accept(document, reviewer, application)
        elif decision == "request":
            documents.request_again(document, reviewer, application, reason)
        else:
            raise documents.DocumentRefused("请选择确认或要求重新提交")
    except documents.DocumentRefused as error:
        return _render_documents(application, status=422, errors={document.id: str(error)}, reasons={document.id: reason})
    if request.htmx:
        return _render_documents(application)
    return see_other(url_for("review.review", reference=reference) + "#review-documents")


def _render_documents(application, status: int = 200, errors=None, reasons=None):
    """The scans with their per-document decisions: the review page's block for htmx, else the page."""
    if not request.htmx:
        return _render_review(application, status=status, **_documents_context(application, errors, reasons))
    return page("review/review.html", block="documents", status=status, application=application,
                **_documents_context(application, errors, reasons))


def _documents_context(application, errors=None, reasons=None) -> dict:
    return {"review_documents": documents.current(application.id), "document_labels": documents.KIND_LABELS,
            "document_review_labels": documents.REVIEW_LABELS, "document_errors": errors or {},
            "document_reasons": reasons or {}}


def _render_review(application, status: int = 200, refused: str | None = None, reject_form=None, **extra):
    """The review page, or only its decision panel for htmx."""
    context = presenters.summary_context(application)
    assessment = context["assessment"]
    response = page(
        "review/review.html", block="decision" if request.method == "POST" and not extra else None, status=status,
        application=application, **context,
        questionnaire=scoring.questionnaire_from_dict(assessment.questionnaire.definition) if assessment else None,
        conflicts=presenters.consistency(application),
        decisions=services.decisions(application), history=opening_services.status_history(application),
        refused=refused if refused is not None else services.refusal_reason(application, current_user),
        claim=services.active_claim(application), claim_minutes=services.claim_minutes(),
        approve_form=ApproveForm(), reject_form=reject_form or RejectForm(channel=application.channel),
        decision_labels=DECISION_LABELS, step_label=_step_label(application),
        **(extra or _documents_context(application)),
    )
    return in_place(response, "#decision") if status in (403, 409) else response


def _render_same_terminal(application, form=None, status: int = 200, refused: str | None = None):
    """The same-terminal panel: the summary and the form while in review, else the latest decision."""
    in_review = opening_services.is_in_review(application)
    summary = {}
    if in_review:
        summary = dict(presenters.summary_context(application), conflicts=presenters.consistency(application))
    response = page(
        "review/same_terminal.html", block="same_terminal", status=status, application=application, **summary,
        progress=opening_progress.of_one(application),
        form=form or SameTerminalForm(channel=application.channel, maker=_maker_label(application)),
        refused=refused, in_review=in_review,
        decision=services.latest_decision(application), can_edit=opening_services.can_edit(current_user, application),
        decision_labels=DECISION_LABELS, step_label=_step_label(application),
    )
    return in_place(response, "#same-terminal-panel") if status in (403, 409) else response


@bp.route("/<reference>/documents/<int:document_id>/file")
@roles_required(Role.REVIEWER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def document_file(reference: str, document_id: int):
    """Send one scan of the application (any version) to those who check it; the read is audited."""
    application = _load(reference)
    document = documents.find(application, document_id)
    if document is None:
        abort(404)
    audit.record("application.document_view", "application", application.reference, kind=document.kind,
                 version=document.version)
    return files.send(document.sha256, document.mime,
                      f"{application.reference}-{document.kind}-v{document.version}.{document.extension}")
