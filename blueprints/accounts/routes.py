"""Exceptions screens (异常处理): the list of refused and failing requests, one request, and the actions on it."""
from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from blueprints.accounts import exceptions
from blueprints.accounts.exceptions import STATE_LABELS, State
from blueprints.accounts.forms import CORRECTION_FORMS, CancelForm, RetryForm
from blueprints.accounts.services import SYSTEM_LABELS, fund_account_of
from blueprints.opening import progress as opening_progress
from blueprints.opening.models import Application
from core import audit, outbox
from core.extensions import db
from core.outbox import MessageStatus
from core.render import page, see_other
from core.security import roles_required
from core.timeutil import utcnow

bp = Blueprint("exceptions", __name__, url_prefix="/exceptions")


def _load(message_id: int, for_update: bool = False):
    message = exceptions.find_visible(current_user, message_id, for_update=for_update)
    if message is None:
        abort(404)
    return message


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args.get(name) or "")
    except ValueError:
        return None


@bp.route("/")
@roles_required(*exceptions.ACTING_ROLES)
def index():
    """List the branch's refused and failing requests to external systems, with counts per state."""
    try:
        state = State(request.args.get("state") or State.REJECTED)
    except ValueError:
        state = State.REJECTED
    topic = request.args.get("system") if request.args.get("system") in SYSTEM_LABELS else None
    branch_id = _int_arg("branch") if current_user.sees_all_branches else None
    rows = exceptions.listing(current_user, state, topic, branch_id, limit=exceptions.LIST_LIMIT)
    audit.record("exceptions.list", None, None, state=state, system=topic, branch=branch_id, rows=len(rows))
    branches = exceptions.branches() if current_user.sees_all_branches else []
    return page("accounts/exceptions.html", block="exception_list", rows=rows, state=state, topic=topic,
                branch_id=branch_id, branches=branches, counts=exceptions.counts(current_user, topic, branch_id),
                state_labels=STATE_LABELS, system_labels=SYSTEM_LABELS, states=list(State),
                request_titles=exceptions.REQUEST_TITLES,
                waiting_since=exceptions.waiting_since, limit=exceptions.LIST_LIMIT,
                failing_after=exceptions.failing_after())


@bp.route("/<int:message_id>")
@roles_required(*exceptions.ACTING_ROLES)
def detail(message_id: int):
    """Show one request: what was sent, what the other side said, its attempts and history, and the actions."""
    message = _load(message_id)
    audit.record("exceptions.view", "application", _application(message).reference, message=message.id)
    return _detail_page(message)


@bp.route("/<int:message_id>/status")
@roles_required(*exceptions.ACTING_ROLES)
def status(message_id: int):
    """The delivery block alone, for the page to poll while the request is on its way (no customer data)."""
    message = _load(message_id)
    if not request.htmx:
        return see_other(url_for("exceptions.detail", message_id=message.id))
    response = _detail_page(message, block="delivery")
    if message.status != MessageStatus.PENDING:
        # Answered: reload the whole page, whose state badge and actions depend on the answer.
        response.headers["HX-Refresh"] = "true"
    return response


@bp.route("/<int:message_id>/resend", methods=["POST"])
@roles_required(*exceptions.ACTING_ROLES)
def resend(message_id: int):
    """Correct what the other side refused and send the request again."""
    message = _load(message_id, for_update=True)
    form_class = CORRECTION_FORMS.get(message.topic)
    if form_class is None:
        abort(404)
    form = form_class(prefix="resend")
    if not form.validate_on_submit():
        return _detail_page(message, resend_form=form, status=422, block="resend_panel")
    try:
        exceptions.resend_corrected(message, current_user, form.reason.data.strip(), form.corrections(),
                                    form.expected_revision)
    except outbox.ActionRefused as refused:
        flash(str(refused), "warning")
    else:
        flash(f"已更正并重新发送至{exceptions.system_label(message.topic)}，系统将自动投递，结果会显示在本页。", "success")
    return see_other(url_for("exceptions.detail", message_id=message.id))


@bp.route("/<int:message_id>/cancel", methods=["POST"])
@roles_required(*exceptions.ACTING_ROLES)
def cancel(message_id: int):
    """Give up on a refused request, with the reason; the binding or the opening is marked failed."""
    message = _load(message_id, for_update=True)
    form = CancelForm(prefix="cancel")
    if not form.validate_on_submit():
        return _detail_page(message, cancel_form=form, status=422, block="cancel_panel")
    try:
        exceptions.cancel_request(message, current_user, form.reason.data.strip(), form.expected_revision)
    except outbox.ActionRefused as refused:
        flash(str(refused), "warning")
    else:
        flash("请求已撤销，申请上已显示处理结果。", "success")
    return see_other(url_for("exceptions.detail", message_id=message.id))


@bp.route("/<int:message_id>/retry", methods=["POST"])
@roles_required(*exceptions.ACTING_ROLES)
def retry(message_id: int):
    """Send a failing request again now instead of at its next scheduled retry."""
    message = _load(message_id, for_update=True)
    if not RetryForm(prefix="retry").validate_on_submit():
        abort(400)
    try:
        exceptions.retry_request(message, current_user)
    except outbox.ActionRefused as refused:
        flash(str(refused), "warning")
    else:
        flash("已安排立即重试，结果会显示在本页。", "success")
    return see_other(url_for("exceptions.detail", message_id=message.id))


def _application(message) -> Application:
    return db.session.get(Application, message.application_id)


def _detail_page(message, resend_form=None, cancel_form=None, status: int = 200, block: str | None = None):
    application = _application(message)
    correction_class = CORRECTION_FORMS.get(message.topic)
    if resend_form is None and correction_class is not None:
        resend_form = correction_class(formdata=None, prefix="resend", revision=message.revision,
                                       bank_code=message.payload.get("bank_code"))
    if cancel_form is None:
        cancel_form = CancelForm(formdata=None, prefix="cancel", revision=message.revision)
    now = utcnow()
    return page(
        "accounts/exception.html", block=block, status=status,
        message=message,
        application=application,
        progress=opening_progress.of_one(application),
        fund_account=fund_account_of(application),
        state=exceptions.state_of(message),
        state_labels=STATE_LABELS,
        system=exceptions.system_label(message.topic),
        title=exceptions.request_title(message.topic),
        any_changes=any(event.changes for event in message.events),
        fields=exceptions.shown_fields(message),
        current=exceptions.current_values(message),
        refusal=exceptions.refusal(message),
        events=message.events,
        shown_changes=exceptions.shown_changes,
        can_act=exceptions.can_act(current_user, message),
        resend_form=resend_form,
        cancel_form=cancel_form,
        retry_form=RetryForm(formdata=None, prefix="retry"),
        waiting_since=exceptions.waiting_since(message),
        polling=message.status == MessageStatus.PENDING,
        retry_due=message.status == MessageStatus.PENDING and message.next_attempt_at <= now,
        now=now,
        business=exceptions.business_link(message),
        hints=exceptions.HINTS.get(message.topic),
    )
